package policy_test

import (
	"math"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

func TestCheckQRClaims(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	const skew = 30 * time.Second
	claims := func(iat, exp int64) protocol.QRClaims {
		return protocol.QRClaims{Subject: "20260000000000000001", IssuedAt: now.Unix() + iat, Expires: now.Unix() + exp, Nonce: make([]byte, 16)}
	}
	tests := []struct {
		name string
		c    protocol.QRClaims
		seen bool
		skew time.Duration
		now  time.Time
		want policy.Code
	}{
		{"fresh token", claims(-5, 55), false, skew, now, policy.CodeOK},
		{"no subject", protocol.QRClaims{IssuedAt: now.Unix(), Expires: now.Unix() + 60, Nonce: make([]byte, 16)}, false, skew, now, policy.CodeQRNoSubject},
		{"nonce of 7 bytes", func() protocol.QRClaims { c := claims(0, 60); c.Nonce = c.Nonce[:7]; return c }(), false, skew, now, policy.CodeQRMalformed},
		{"nonce of 8 bytes", func() protocol.QRClaims { c := claims(0, 60); c.Nonce = c.Nonce[:8]; return c }(), false, skew, now, policy.CodeOK},
		{"nonce of 32 bytes", func() protocol.QRClaims { c := claims(0, 60); c.Nonce = make([]byte, 32); return c }(), false, skew, now, policy.CodeOK},
		{"nonce of 33 bytes", func() protocol.QRClaims { c := claims(0, 60); c.Nonce = make([]byte, 33); return c }(), false, skew, now, policy.CodeQRMalformed},
		{"expires at issue", claims(0, 0), false, skew, now, policy.CodeQRMalformed},
		{"expires before issue", claims(0, -1), false, skew, now, policy.CodeQRMalformed},
		{"lifetime exactly 5 min", claims(-10, 290), false, skew, now, policy.CodeOK},
		{"lifetime 5 min 1 s", claims(-10, 291), false, skew, now, policy.CodeQRLifetime},
		{"lifetime spanning all of int64", protocol.QRClaims{Subject: "x", IssuedAt: math.MinInt64, Expires: math.MaxInt64, Nonce: make([]byte, 8)}, false, skew, now, policy.CodeQRLifetime},
		{"issued at now+skew", claims(30, 90), false, skew, now, policy.CodeOK},
		{"issued at now+skew+1s", claims(31, 91), false, skew, now, policy.CodeQRNotYetValid},
		{"issued in the future, no skew", claims(1, 61), false, 0, now, policy.CodeQRNotYetValid},
		{"negative skew counts as none", claims(1, 61), false, -time.Hour, now, policy.CodeQRNotYetValid},
		{"expired skew ago", claims(-90, -30), false, skew, now, policy.CodeQRExpired},
		{"expired less than skew ago", claims(-89, -29), false, skew, now, policy.CodeOK},
		{"expired skew ago less 1 ns", claims(-90, -30), false, skew, now.Add(-time.Nanosecond), policy.CodeOK},
		{"expires now, no skew", claims(-60, 0), false, 0, now, policy.CodeQRExpired},
		{"nonce seen", claims(-5, 55), true, skew, now, policy.CodeQRReplay},
		{"expired before replay", claims(-90, -30), true, skew, now, policy.CodeQRExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.CheckQRClaims(tc.c, tc.seen, tc.now, tc.skew); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
