package policy

import (
	"time"

	"github.com/openykt/yktd/protocol"
)

// MaxQRLifetime is the longest validity a campus QR token may claim
// (Expires − IssuedAt); tokens live about a minute (DESIGN.md 4).
const MaxQRLifetime = 5 * time.Minute

// QR nonce lengths (protocol.QRClaims: 8..32 bytes).
const (
	minQRNonce = 8
	maxQRNonce = 32
)

// CheckQRClaims checks the claims of a campus QR token whose signature the
// caller has verified (protocol does the COSE_Sign1 verification): a
// subject, a nonce of 8..32 bytes, a lifetime of at most MaxQRLifetime
// (and Expires after IssuedAt), IssuedAt not after now+skew, now before
// Expires+skew, and a nonce not seen before (nonceSeen from the store's QR
// nonce cache). The checks run in that order; it returns CodeOK or the
// first refusal. skew < 0 counts as 0.
func CheckQRClaims(c protocol.QRClaims, nonceSeen bool, now time.Time, skew time.Duration) Code {
	if c.Subject == "" {
		return CodeQRNoSubject
	}
	if len(c.Nonce) < minQRNonce || len(c.Nonce) > maxQRNonce {
		return CodeQRMalformed
	}
	if c.Expires <= c.IssuedAt {
		return CodeQRMalformed
	}
	// Both are Unix seconds; compare in seconds to stay clear of overflow.
	if uint64(c.Expires-c.IssuedAt) > uint64(MaxQRLifetime/time.Second) {
		return CodeQRLifetime
	}
	if skew < 0 {
		skew = 0
	}
	if time.Unix(c.IssuedAt, 0).After(now.Add(skew)) {
		return CodeQRNotYetValid
	}
	if !now.Before(time.Unix(c.Expires, 0).Add(skew)) {
		return CodeQRExpired
	}
	if nonceSeen {
		return CodeQRReplay
	}
	return CodeOK
}
