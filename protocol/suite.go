package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// AlgEd25519 is the COSE algorithm number of EdDSA with Ed25519 (RFC 9053),
// the default suite.
const AlgEd25519 int64 = -8

// Suite is a signature algorithm that signs and verifies the COSE_Sign1
// messages of this package, registered under its COSE algorithm number.
// Keys cross the API as raw bytes in the suite's own format (what
// EnrolRequest.PublicKey, IssuerKey.Key and key files carry), so that a new
// suite needs no change to the message types or to callers.
//
// An SM2/SM3 (国密) suite plugs in like this, from any package (it need not
// live in protocol, which keeps protocol free of the SM2 dependency):
//
//	type sm2Suite struct{}
//	func (sm2Suite) Alg() int64  { return -70001 } // private use: no COSE number is registered for SM2
//	func (sm2Suite) Name() string { return "SM2-SM3" }
//	func (sm2Suite) GenerateKey(r io.Reader) ([]byte, error)      // sm2.GenerateKey(r); private = D as 32 bytes big-endian
//	func (sm2Suite) NewSigner(priv []byte) (protocol.KeySigner, error) // Public() = 65-byte uncompressed point 04‖X‖Y;
//	    // Sign(rand, content) = priv.Sign(rand, content, sm2.DefaultSM2SignerOpts) (SM3 with Z_A, default
//	    // user id "1234567812345678"), DER re-encoded as fixed r‖s (32+32 bytes), as COSE does for ECDSA
//	func (sm2Suite) NewVerifier(pub []byte) (protocol.KeyVerifier, error) // parse 04‖X‖Y, r‖s → sm2.VerifyASN1WithSM2(pub, nil, content, der)
//
//	func init() { protocol.MustRegisterSuite(sm2Suite{}) }
//
// The device then enrols with Alg -70001 and its SM2 public key, the ledger
// announces its own SM2 key the same way, and Sign, Verify, Seal, Open and
// the QR functions work unchanged: the protected header names the
// algorithm, and the verifier refuses a message whose algorithm is not that
// of the key registered under its kid.
type Suite interface {
	// Alg returns the COSE algorithm number (header label 1).
	Alg() int64
	// Name returns a short name for logs and tools ("Ed25519").
	Name() string
	// GenerateKey makes a new private key from r.
	GenerateKey(r io.Reader) (private []byte, err error)
	// NewSigner parses a private key.
	NewSigner(private []byte) (KeySigner, error)
	// NewVerifier parses a public key.
	NewVerifier(public []byte) (KeyVerifier, error)
}

// KeySigner signs with one private key of a suite.
type KeySigner interface {
	// Public returns the raw public key.
	Public() []byte
	// Sign signs content (the COSE Sig_structure, not a digest).
	Sign(rand io.Reader, content []byte) ([]byte, error)
}

// KeyVerifier verifies signatures of one public key of a suite.
type KeyVerifier interface {
	// Verify returns nil if sig is a valid signature of content.
	Verify(content, sig []byte) error
}

var suites = struct {
	sync.RWMutex
	m map[int64]Suite
}{m: map[int64]Suite{AlgEd25519: ed25519Suite{}}}

// RegisterSuite makes s available under s.Alg(). It refuses algorithm 0 and
// an algorithm already registered.
func RegisterSuite(s Suite) error {
	alg := s.Alg()
	suites.Lock()
	defer suites.Unlock()
	if alg == 0 {
		return fmt.Errorf("protocol: register suite %s: algorithm 0", s.Name())
	}
	if old, ok := suites.m[alg]; ok {
		return fmt.Errorf("protocol: register suite %s: algorithm %d is taken by %s", s.Name(), alg, old.Name())
	}
	suites.m[alg] = s
	return nil
}

// MustRegisterSuite is RegisterSuite for init functions: it panics on error.
func MustRegisterSuite(s Suite) {
	if err := RegisterSuite(s); err != nil {
		panic(err)
	}
}

// LookupSuite returns the suite registered under alg, or an error matching
// ErrUnsupportedAlg.
func LookupSuite(alg int64) (Suite, error) {
	suites.RLock()
	s, ok := suites.m[alg]
	suites.RUnlock()
	if !ok {
		return nil, Errorf(CodeUnsupportedAlg, "algorithm %d is not registered", alg)
	}
	return s, nil
}

// Suites returns the registered algorithm numbers, in ascending order.
func Suites() []int64 {
	suites.RLock()
	defer suites.RUnlock()
	out := make([]int64, 0, len(suites.m))
	for a := range suites.m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// GenerateKey makes a new private key of the suite alg from r (normally
// crypto/rand.Reader).
func GenerateKey(alg int64, r io.Reader) ([]byte, error) {
	s, err := LookupSuite(alg)
	if err != nil {
		return nil, err
	}
	k, err := s.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("protocol: generate %s key: %w", s.Name(), err)
	}
	return k, nil
}

// ed25519Suite is EdDSA over Ed25519 (RFC 8032, pure): the private key is
// the 32-byte seed, the public key the 32-byte encoded point, signatures
// 64 bytes.
type ed25519Suite struct{}

func (ed25519Suite) Alg() int64   { return AlgEd25519 }
func (ed25519Suite) Name() string { return "Ed25519" }

func (ed25519Suite) GenerateKey(r io.Reader) ([]byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, err
	}
	return seed, nil
}

func (ed25519Suite) NewSigner(private []byte) (KeySigner, error) {
	if len(private) != ed25519.SeedSize {
		return nil, fmt.Errorf("protocol: ed25519 private key is %d bytes, want %d", len(private), ed25519.SeedSize)
	}
	return ed25519Signer(ed25519.NewKeyFromSeed(private)), nil
}

func (ed25519Suite) NewVerifier(public []byte) (KeyVerifier, error) {
	if len(public) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("protocol: ed25519 public key is %d bytes, want %d", len(public), ed25519.PublicKeySize)
	}
	return ed25519Verifier(public), nil
}

type ed25519Signer ed25519.PrivateKey

func (k ed25519Signer) Public() []byte {
	return []byte(ed25519.PrivateKey(k).Public().(ed25519.PublicKey))
}

func (k ed25519Signer) Sign(_ io.Reader, content []byte) ([]byte, error) {
	return ed25519.Sign(ed25519.PrivateKey(k), content), nil
}

type ed25519Verifier []byte

var errVerify = errors.New("signature does not verify")

func (k ed25519Verifier) Verify(content, sig []byte) error {
	if !ed25519.Verify(ed25519.PublicKey(k), content, sig) {
		return errVerify
	}
	return nil
}
