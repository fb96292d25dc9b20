package protocol

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// HeaderLabelVersion is the private-use protected header label that carries
// the version of a downstream versioned message (StatusSnapshot.Version,
// StatusDelta.To, Rules.Version), so that a receiver can refuse an old
// version before decoding the payload.
const HeaderLabelVersion int64 = -65537

// MaxEnvelopeOverhead is what the COSE_Sign1 structure may add to a payload:
// a message is refused when it is larger than its payload's bound plus this.
const MaxEnvelopeOverhead = 1024

// PublicKey is a verification key: its key id (the kid header), COSE
// algorithm and raw key bytes in the format of the algorithm's Suite.
type PublicKey struct {
	KeyID string
	Alg   int64
	Key   []byte
}

// KeySet finds the key of a kid. It returns an error matching
// ErrUnknownKey when it has none (or ErrRevoked, or any other *Error, which
// Verify passes on).
type KeySet interface {
	PublicKey(kid string) (PublicKey, error)
}

// Keys is a fixed KeySet: kid → key.
type Keys map[string]PublicKey

// NewKeys returns the Keys of ks, indexed by KeyID.
func NewKeys(ks ...PublicKey) Keys {
	m := make(Keys, len(ks))
	for _, k := range ks {
		m[k.KeyID] = k
	}
	return m
}

// PublicKey returns the key of kid or an error matching ErrUnknownKey.
func (k Keys) PublicKey(kid string) (PublicKey, error) {
	pk, ok := k[kid]
	if !ok {
		return PublicKey{}, Errorf(CodeUnknownDevice, "no key %q", kid)
	}
	return pk, nil
}

// Signer signs messages with one private key under one key id: a device's
// key under its device id, the ledger's key under its key id, a QR issuer's
// key under the issuer key id.
type Signer struct {
	kid  string
	alg  int64
	ks   KeySigner
	rand io.Reader
}

// NewSigner returns a Signer of the private key (raw bytes of the suite
// alg) under key id kid.
func NewSigner(kid string, alg int64, private []byte) (*Signer, error) {
	if !validName(kid, MaxKeyIDLen) {
		return nil, fmt.Errorf("protocol: new signer: invalid key id %q", kid)
	}
	s, err := LookupSuite(alg)
	if err != nil {
		return nil, fmt.Errorf("protocol: new signer: %w", err)
	}
	ks, err := s.NewSigner(private)
	if err != nil {
		return nil, fmt.Errorf("protocol: new signer: %w", err)
	}
	return &Signer{kid: kid, alg: alg, ks: ks, rand: rand.Reader}, nil
}

// KeyID returns the key id the signer signs under.
func (s *Signer) KeyID() string { return s.kid }

// Alg returns the signer's COSE algorithm.
func (s *Signer) Alg() int64 { return s.alg }

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() PublicKey {
	return PublicKey{KeyID: s.kid, Alg: s.alg, Key: s.ks.Public()}
}

// coseSigner adapts a Signer to go-cose.
type coseSigner struct{ *Signer }

func (c coseSigner) Algorithm() cose.Algorithm { return cose.Algorithm(c.alg) }
func (c coseSigner) Sign(r io.Reader, content []byte) ([]byte, error) {
	return c.ks.Sign(r, content)
}

// coseVerifier adapts a KeyVerifier to go-cose.
type coseVerifier struct {
	alg int64
	kv  KeyVerifier
}

func (c coseVerifier) Algorithm() cose.Algorithm        { return cose.Algorithm(c.alg) }
func (c coseVerifier) Verify(content, sig []byte) error { return c.kv.Verify(content, sig) }

// Header is the protected header of a verified message.
type Header struct {
	Alg         int64  // COSE algorithm (label 1)
	KeyID       string // kid (label 4), UTF-8 in a byte string
	ContentType string // content type (label 3), e.g. TypeBatch
	Version     uint64 // HeaderLabelVersion; 0 when absent
}

// protectedHeader is the strict form of the protected header: these labels
// and no others.
type protectedHeader struct {
	Alg         int64  `cbor:"1,keyasint"`
	ContentType string `cbor:"3,keyasint"`
	KeyID       []byte `cbor:"4,keyasint"`
	Version     uint64 `cbor:"-65537,keyasint,omitempty"`
}

// Sign returns a tagged COSE_Sign1 (RFC 9052) over payload signed by s, with
// the protected header alg, kid = s.KeyID(), content type and, when version
// is not 0, HeaderLabelVersion; aad is the external additional data (the
// device id for every device ↔ ledger message). The unprotected header is
// empty.
func Sign(s *Signer, contentType string, payload, aad []byte, version uint64) ([]byte, error) {
	if !validContentType(contentType) {
		return nil, fmt.Errorf("protocol: sign: invalid content type %q", contentType)
	}
	if payload == nil {
		payload = []byte{}
	}
	h := cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm:   cose.Algorithm(s.alg),
		cose.HeaderLabelContentType: contentType,
		cose.HeaderLabelKeyID:       []byte(s.kid),
	}
	if version != 0 {
		h[HeaderLabelVersion] = version
	}
	msg, err := cose.Sign1(s.rand, coseSigner{s}, cose.Headers{Protected: h}, payload, aad)
	if err != nil {
		return nil, fmt.Errorf("protocol: sign %s: %w", contentType, err)
	}
	return msg, nil
}

// validContentType: type/subtype as go-cose insists, bounded.
func validContentType(ct string) bool {
	if len(ct) == 0 || len(ct) > 64 {
		return false
	}
	slash := 0
	for i := 0; i < len(ct); i++ {
		c := ct[i]
		switch {
		case c == '/':
			slash++
		case c <= ' ' || c > '~':
			return false
		}
	}
	return slash == 1 && ct[0] != '/' && ct[len(ct)-1] != '/'
}

// sign1 is the strict form of COSE_Sign1 (after tag 18).
type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// parsed is a COSE_Sign1 that passed the strict structure checks, not yet
// verified.
type parsed struct {
	Header
	payload []byte
}

// parseSign1 checks the structure of a message: at most max bytes, tag 18
// then a 4-array, a protected header with exactly alg, content type, kid
// and optionally the version, an empty unprotected header, a payload and a
// signature, no trailing bytes.
func parseSign1(msg []byte, max int) (parsed, error) {
	if len(msg) > max {
		return parsed{}, Errorf(CodeTooLarge, "cose: %d bytes, at most %d", len(msg), max)
	}
	if len(msg) < 2 || msg[0] != 0xd2 || msg[1] != 0x84 {
		return parsed{}, Errorf(CodeMalformed, "cose: not a tagged COSE_Sign1")
	}
	var s sign1
	if err := headerDec.Unmarshal(msg[1:], &s); err != nil {
		return parsed{}, Errorf(CodeMalformed, "cose: %w", err)
	}
	if len(s.Unprotected) != 1 || s.Unprotected[0] != 0xa0 {
		return parsed{}, Errorf(CodeMalformed, "cose: unprotected header not empty")
	}
	if s.Payload == nil || len(s.Signature) == 0 {
		return parsed{}, Errorf(CodeMalformed, "cose: no payload or no signature")
	}
	var h protectedHeader
	if err := headerDec.Unmarshal(s.Protected, &h); err != nil {
		return parsed{}, Errorf(CodeMalformed, "cose: protected header: %w", err)
	}
	switch {
	case h.Alg == 0:
		return parsed{}, Errorf(CodeMalformed, "cose: no algorithm")
	case !validName(string(h.KeyID), MaxKeyIDLen):
		return parsed{}, Errorf(CodeMalformed, "cose: invalid kid")
	case !validContentType(h.ContentType):
		return parsed{}, Errorf(CodeMalformed, "cose: invalid content type")
	}
	return parsed{
		Header:  Header{Alg: h.Alg, KeyID: string(h.KeyID), ContentType: h.ContentType, Version: h.Version},
		payload: s.Payload,
	}, nil
}

// maxSizes bounds the payload of each message type.
var maxSizes = map[string]int{
	TypeEnrolRequest:        MaxEnrolSize,
	TypeEnrolResponse:       MaxEnrolSize,
	TypeBatch:               MaxBatchSize,
	TypeAck:                 MaxAckSize,
	TypeStatusRequest:       MaxRequestSize,
	TypeStatusSnapshot:      MaxStatusSize,
	TypeStatusDelta:         MaxStatusSize,
	TypeRulesRequest:        MaxRequestSize,
	TypeRules:               MaxRulesSize,
	TypePendingRequest:      MaxRequestSize,
	TypePending:             MaxPendingSize,
	TypeLoadInit:            MaxLoadSize,
	TypeLoadInitResponse:    MaxLoadSize,
	TypeLoadConfirm:         MaxLoadSize,
	TypeLoadConfirmResponse: MaxLoadSize,
	TypeQRToken:             MaxQRClaimsSize,
}

// MaxOtherPayload bounds the payload of a content type this package does
// not define.
const MaxOtherPayload = 64 << 10

// maxMessage returns the bound of a COSE_Sign1 of any of types.
func maxMessage(types []string) int {
	m := 0
	for _, t := range types {
		n, ok := maxSizes[t]
		if !ok {
			n = MaxOtherPayload
		}
		m = max(m, n)
	}
	return m + MaxEnvelopeOverhead
}

// Verify checks a COSE_Sign1 made by Sign and returns its header and
// payload. It refuses, with an *Error of the code in brackets: a message
// larger than the bound of the wanted types, or not a strictly well-formed
// COSE_Sign1 with the protected header Sign makes [malformed, too-large]; a
// content type other than wantTypes (at least one must be given)
// [malformed]; a kid keys does not know [unknown-device, or what keys
// says]; an algorithm that is not registered or not the key's
// [unsupported-alg]; a signature that does not verify over the message
// with aad [bad-signature].
func Verify(keys KeySet, msg, aad []byte, wantTypes ...string) (Header, []byte, error) {
	if len(wantTypes) == 0 {
		return Header{}, nil, fmt.Errorf("protocol: verify: no content type wanted")
	}
	p, err := parseSign1(msg, maxMessage(wantTypes))
	if err != nil {
		return Header{}, nil, err
	}
	if err := verifyParsed(keys, msg, aad, p, wantTypes); err != nil {
		return Header{}, nil, err
	}
	return p.Header, p.payload, nil
}

func verifyParsed(keys KeySet, msg, aad []byte, p parsed, wantTypes []string) error {
	ok := false
	for _, t := range wantTypes {
		ok = ok || p.ContentType == t
	}
	if !ok {
		return Errorf(CodeMalformed, "cose: content type %q, want %q", p.ContentType, wantTypes)
	}
	pk, err := keys.PublicKey(p.KeyID)
	if err != nil {
		if CodeOf(err) == CodeInternal {
			return Errorf(CodeInternal, "cose: key %q: %w", p.KeyID, err)
		}
		return err
	}
	if pk.Alg != p.Alg {
		return Errorf(CodeUnsupportedAlg, "cose: message algorithm %d, key %q is %d", p.Alg, p.KeyID, pk.Alg)
	}
	suite, err := LookupSuite(p.Alg)
	if err != nil {
		return err
	}
	kv, err := suite.NewVerifier(pk.Key)
	if err != nil {
		return Errorf(CodeInternal, "cose: key %q: %w", p.KeyID, err)
	}
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(msg); err != nil {
		return Errorf(CodeMalformed, "cose: %w", err)
	}
	if aad == nil {
		aad = []byte{}
	}
	if err := m.Verify(aad, coseVerifier{alg: p.Alg, kv: kv}); err != nil {
		return Errorf(CodeBadSignature, "cose: %s from %q: %w", p.ContentType, p.KeyID, err)
	}
	return nil
}

// PeekHeader returns the protected header of a message without verifying
// it: for a receiver that must know the kid (the device) before it can
// choose keys or AAD. Nothing in it may be trusted before Verify.
func PeekHeader(msg []byte) (Header, error) {
	p, err := parseSign1(msg, maxMessage([]string{TypeStatusSnapshot}))
	return p.Header, err
}
