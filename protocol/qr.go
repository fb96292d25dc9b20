package protocol

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Bounds of a campus QR token.
const (
	// MaxQRClaimsSize bounds encoded QRClaims.
	MaxQRClaimsSize = 256
	// MaxQRTextLen bounds the scanned text of a token.
	MaxQRTextLen = 1024
	// MinQRNonce and MaxQRNonce bound QRClaims.Nonce.
	MinQRNonce = 8
	MaxQRNonce = 32
)

// ErrKeyExpired is returned (with ErrRevoked) when a token's issuer key is
// past its NotAfter.
var ErrKeyExpired = errors.New("protocol: key expired")

// ContentType returns TypeQRToken.
func (*QRClaims) ContentType() string { return TypeQRToken }

// Validate checks the structure of the claims (not their time window,
// which is the gate's policy): a subject card number, IssuedAt > 0,
// Expires after IssuedAt, an 8..32-byte nonce.
func (m *QRClaims) Validate() error {
	const w = "qr claims"
	switch {
	case !validCardNo(m.Subject):
		return Errorf(CodeMalformed, "%s: invalid subject", w)
	case m.IssuedAt <= 0 || m.Expires <= m.IssuedAt:
		return Errorf(CodeMalformed, "%s: issued %d, expires %d", w, m.IssuedAt, m.Expires)
	case len(m.Nonce) < MinQRNonce || len(m.Nonce) > MaxQRNonce:
		return Errorf(CodeMalformed, "%s: nonce of %d bytes", w, len(m.Nonce))
	}
	return nil
}

// Encode validates m and returns its canonical encoding.
func (m *QRClaims) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode("qr claims", m, MaxQRClaimsSize)
}

func (m *QRClaims) decode(b []byte) error {
	*m = QRClaims{}
	if err := decodeStrict("qr claims", b, m, smallDec, MaxQRClaimsSize); err != nil {
		return err
	}
	return m.Validate()
}

func (m *QRClaims) deviceID() string { return "" }

// DecodeQRClaims decodes QRClaims strictly.
func DecodeQRClaims(b []byte) (QRClaims, error) {
	var m QRClaims
	err := m.decode(b)
	return m, err
}

// SignQRToken returns the text of a campus QR token: base45 (RFC 9285, the
// QR alphanumeric mode) of a COSE_Sign1 over the claims, signed by the
// issuer key s (kid = issuer key id, content type TypeQRToken, no AAD: any
// gate verifies it).
func SignQRToken(s *Signer, c QRClaims) (string, error) {
	b, err := c.Encode()
	if err != nil {
		return "", err
	}
	msg, err := Sign(s, TypeQRToken, b, nil, 0)
	if err != nil {
		return "", err
	}
	return Base45Encode(msg), nil
}

// VerifyQRToken checks a scanned campus QR token, base45 or base64url
// (unpadded or padded) of a COSE_Sign1, against the issuer keys (from the
// signed Rules) and returns its claims. It refuses what Verify refuses, an
// issuer key past its NotAfter at now [revoked, ErrKeyExpired; not checked
// when now is zero] and claims that do not decode strictly [malformed]. It
// does not judge the claims' time window or nonce: that is the gate's
// policy.
func VerifyQRToken(text string, issuers []IssuerKey, now time.Time) (QRClaims, error) {
	if len(text) > MaxQRTextLen {
		return QRClaims{}, Errorf(CodeTooLarge, "qr token: %d characters", len(text))
	}
	msg, err := decodeQRText(text)
	if err != nil {
		return QRClaims{}, err
	}
	keys := qrKeys{issuers: issuers, now: now}
	h, payload, err := Verify(keys, msg, nil, TypeQRToken)
	if err != nil {
		return QRClaims{}, err
	}
	if h.Version != 0 {
		return QRClaims{}, Errorf(CodeMalformed, "qr token: version header")
	}
	return DecodeQRClaims(payload)
}

func isSign1(b []byte) bool { return len(b) > 2 && b[0] == 0xd2 && b[1] == 0x84 }

var qrBase64 = base64.RawURLEncoding.Strict()

func decodeQRText(text string) ([]byte, error) {
	if b, err := Base45Decode(text); err == nil && isSign1(b) {
		return b, nil
	}
	if b, err := qrBase64.DecodeString(strings.TrimRight(text, "=")); err == nil && isSign1(b) {
		return b, nil
	}
	return nil, Errorf(CodeMalformed, "qr token: neither base45 nor base64url of a COSE_Sign1")
}

// qrKeys is the KeySet of the issuer keys valid at now.
type qrKeys struct {
	issuers []IssuerKey
	now     time.Time
}

func (q qrKeys) PublicKey(kid string) (PublicKey, error) {
	for _, k := range q.issuers {
		if k.KeyID != kid {
			continue
		}
		if k.NotAfter != 0 && !q.now.IsZero() && q.now.Unix() > k.NotAfter {
			return PublicKey{}, Errorf(CodeRevoked, "qr issuer key %q ended at %d: %w", kid, k.NotAfter, ErrKeyExpired)
		}
		return PublicKey{KeyID: k.KeyID, Alg: k.Alg, Key: k.Key}, nil
	}
	return PublicKey{}, Errorf(CodeUnknownDevice, "no qr issuer key %q", kid)
}
