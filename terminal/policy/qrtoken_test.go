package policy_test

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

// issuer makes a campus QR issuer key and its entry in the rules.
func issuer(t *testing.T, kid string, notAfter int64) (*protocol.Signer, protocol.IssuerKey) {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.NewSigner(kid, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	pk := s.PublicKey()
	return s, protocol.IssuerKey{KeyID: kid, Alg: pk.Alg, Key: pk.Key, NotAfter: notAfter}
}

func signQR(t *testing.T, s *protocol.Signer, c protocol.QRClaims) string {
	t.Helper()
	text, err := protocol.SignQRToken(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestCheckQRToken(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	const skew = 30 * time.Second
	campus, campusKey := issuer(t, "campus-2026", 0)
	old, oldKey := issuer(t, "campus-2025", now.Unix()-1)
	rogue, _ := issuer(t, "campus-2026", 0) // same kid, another key
	stranger, _ := issuer(t, "stranger", 0)
	rules := &protocol.Rules{QRIssuers: []protocol.IssuerKey{oldKey, campusKey}}

	good := qrClaims(now)
	valid := signQR(t, campus, good)
	withClaims := func(mod func(*protocol.QRClaims)) string {
		c := qrClaims(now)
		mod(&c)
		return signQR(t, campus, c)
	}
	b64 := func() string {
		b, err := good.Encode()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := protocol.Sign(campus, protocol.TypeQRToken, b, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(msg)
	}()
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	tests := []struct {
		name  string
		text  string
		rules *protocol.Rules
		now   time.Time
		want  policy.Code
	}{
		{"valid base45", valid, rules, now, policy.CodeOK},
		{"valid base64url", b64, rules, now, policy.CodeOK},
		{"no rules", valid, nil, now, policy.CodeNoRules},
		{"rules without issuers", valid, &protocol.Rules{}, now, policy.CodeRuleMissing},
		{"signed by an unknown issuer", signQR(t, stranger, good), rules, now, policy.CodeQRBadSignature},
		{"forged under a known kid", signQR(t, rogue, good), rules, now, policy.CodeQRBadSignature},
		{"issuer key past its end", signQR(t, old, good), rules, now, policy.CodeQRBadSignature},
		{"signature byte changed", flip(valid, len(valid)-3), rules, now, policy.CodeQRBadSignature},
		{"not a token", "HELLO WORLD", rules, now, policy.CodeQRMalformed},
		{"empty", "", rules, now, policy.CodeQRMalformed},
		{"too long", strings.Repeat("A", protocol.MaxQRTextLen+1), rules, now, policy.CodeQRMalformed},
		{"expired", valid, rules, now.Add(2 * time.Minute), policy.CodeQRExpired},
		{"expires within the skew", valid, rules, now.Add(55*time.Second + skew - time.Second), policy.CodeOK},
		{"not yet valid", valid, rules, now.Add(-time.Minute), policy.CodeQRNotYetValid},
		{"lives too long", withClaims(func(c *protocol.QRClaims) { c.Expires = c.IssuedAt + 301 }), rules, now, policy.CodeQRLifetime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, code := policy.CheckQRToken(tc.text, tc.rules, tc.now, skew)
			if code != tc.want {
				t.Fatalf("code %s, want %s", code, tc.want)
			}
			if code == policy.CodeOK {
				if c.Subject != good.Subject || c.Expires != good.Expires || string(c.Nonce) != string(good.Nonce) || c.Class != good.Class {
					t.Fatalf("claims %+v, want %+v", c, good)
				}
			} else if c.Subject != "" {
				t.Fatalf("refused token returned claims %+v", c)
			}
		})
	}

	// The flow's path: verify, ask the nonce cache, decide.
	claims, code := policy.CheckQRToken(valid, rules, now, skew)
	if code != policy.CodeOK {
		t.Fatal(code)
	}
	in := cardAtDorm()
	in.Rules.QRIssuers = rules.QRIssuers
	in.Rules.Credentials[doorDorm] = []string{"qr"}
	in.Now = now.In(cst)
	// 2026-09-21 is a Monday; 1_790_000_000 is 22:13 CST, inside dorm hours.
	in.Credential = policy.Credential{Kind: policy.KindQR, QR: claims}
	if d := policy.DecideGate(in); d.Code != policy.CodeOK {
		t.Fatalf("gate: %s", d.Code)
	}
	in.Credential.NonceSeen = true
	if d := policy.DecideGate(in); d.Code != policy.CodeQRReplay {
		t.Fatalf("gate, nonce seen: %s", d.Code)
	}
}

func BenchmarkCheckQRToken(b *testing.B) {
	now := time.Unix(1_790_000_000, 0)
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s, err := protocol.NewSigner("campus", protocol.AlgEd25519, priv)
	if err != nil {
		b.Fatal(err)
	}
	pk := s.PublicKey()
	rules := &protocol.Rules{QRIssuers: []protocol.IssuerKey{{KeyID: "campus", Alg: pk.Alg, Key: pk.Key}}}
	text, err := protocol.SignQRToken(s, qrClaims(now))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, c := policy.CheckQRToken(text, rules, now, 30*time.Second); c != policy.CodeOK {
			b.Fatal(c)
		}
	}
}
