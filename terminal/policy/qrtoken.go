package policy

import (
	"errors"
	"time"

	"github.com/openykt/yktd/protocol"
)

// CheckQRToken verifies a scanned campus QR token (base45 or base64url of a
// COSE_Sign1) with the issuer keys of the signed rules
// (protocol.VerifyQRToken) and checks its claims as CheckQRClaims does,
// except the nonce: looking the nonce up is the store's work, so the gate
// flow then asks its nonce cache and passes the claims with NonceSeen to
// DecideGate, which checks them again with the nonce.
//
// It returns the claims and CodeOK, or the refusal: CodeNoRules without
// rules, CodeRuleMissing when the rules hold no QR issuer key,
// CodeQRMalformed for text or claims that do not decode, CodeQRBadSignature
// for a signature that does not verify (unknown, expired or revoked issuer
// key, wrong algorithm, forged), or the claims' own refusal.
func CheckQRToken(text string, r *protocol.Rules, now time.Time, skew time.Duration) (protocol.QRClaims, Code) {
	if r == nil {
		return protocol.QRClaims{}, CodeNoRules
	}
	if len(r.QRIssuers) == 0 {
		return protocol.QRClaims{}, CodeRuleMissing
	}
	c, err := protocol.VerifyQRToken(text, r.QRIssuers, now)
	if err != nil {
		return protocol.QRClaims{}, qrErrorCode(err)
	}
	if code := CheckQRClaims(c, false, now, skew); code != CodeOK {
		return protocol.QRClaims{}, code
	}
	return c, CodeOK
}

// qrErrorCode maps a verification error to its refusal; anything not
// known to be a decoding fault is a signature refusal (fail closed).
func qrErrorCode(err error) Code {
	if errors.Is(err, protocol.ErrMalformed) || errors.Is(err, protocol.ErrTooLarge) {
		return CodeQRMalformed
	}
	return CodeQRBadSignature
}
