// Package sm2suite is the SM2 with SM3 (国密, GB/T 32918.2) signature suite
// for the COSE messages of package protocol, for campuses that require
// commercial cryptography. Importing it registers the suite under Alg
// (-70001, a private-use COSE number: none is registered for SM2):
//
//	import _ "github.com/openykt/yktd/protocol/sm2suite"
//
// Keys are raw: a private key is the 32-byte scalar d (big-endian), a public
// key the 65-byte uncompressed point 04 ‖ X ‖ Y. Signatures are r ‖ s,
// 32 + 32 bytes (as COSE encodes ECDSA), over SM3(Z_A ‖ message) with Z_A of
// the default user id "1234567812345678" (GM/T 0009).
package sm2suite

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"

	"github.com/openykt/yktd/protocol"
)

// Alg is the COSE algorithm number of the suite (private use).
const Alg int64 = -70001

// Sizes of the raw keys and signatures.
const (
	PrivateKeySize = 32
	PublicKeySize  = 65
	SignatureSize  = 64
)

func init() { protocol.MustRegisterSuite(Suite{}) }

// Suite implements protocol.Suite for SM2 with SM3.
type Suite struct{}

// Alg returns Alg.
func (Suite) Alg() int64 { return Alg }

// Name returns "SM2-SM3".
func (Suite) Name() string { return "SM2-SM3" }

// GenerateKey makes a private key from r.
func (Suite) GenerateKey(r io.Reader) ([]byte, error) {
	k, err := sm2.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("sm2suite: generate key: %w", err)
	}
	return k.D.FillBytes(make([]byte, PrivateKeySize)), nil
}

// nMinus1 bounds d: SM2 signing needs d in [1, n-2].
var nMinus1 = new(big.Int).Sub(sm2.P256().Params().N, big.NewInt(1))

// NewSigner parses a private key.
func (Suite) NewSigner(private []byte) (protocol.KeySigner, error) {
	if len(private) != PrivateKeySize {
		return nil, fmt.Errorf("sm2suite: private key is %d bytes, want %d", len(private), PrivateKeySize)
	}
	d := new(big.Int).SetBytes(private)
	if d.Sign() == 0 || d.Cmp(nMinus1) >= 0 {
		return nil, errors.New("sm2suite: private key out of range")
	}
	ek, err := ecdh.P256().NewPrivateKey(private)
	if err != nil {
		return nil, fmt.Errorf("sm2suite: private key: %w", err)
	}
	pub := ek.PublicKey().Bytes()
	k := &sm2.PrivateKey{}
	k.Curve = sm2.P256()
	k.D = d
	k.X = new(big.Int).SetBytes(pub[1:33])
	k.Y = new(big.Int).SetBytes(pub[33:])
	return signer{k: k, pub: pub}, nil
}

// NewVerifier parses a public key (checking that it is on the curve).
func (Suite) NewVerifier(public []byte) (protocol.KeyVerifier, error) {
	if len(public) != PublicKeySize {
		return nil, fmt.Errorf("sm2suite: public key is %d bytes, want %d", len(public), PublicKeySize)
	}
	if _, err := ecdh.P256().NewPublicKey(public); err != nil {
		return nil, fmt.Errorf("sm2suite: public key: %w", err)
	}
	k := &sm2.PrivateKey{} // only its PublicKey is used
	k.Curve = sm2.P256()
	k.X = new(big.Int).SetBytes(public[1:33])
	k.Y = new(big.Int).SetBytes(public[33:])
	return verifier{pub: &k.PublicKey}, nil
}

type signer struct {
	k   *sm2.PrivateKey
	pub []byte
}

func (s signer) Public() []byte { return append([]byte(nil), s.pub...) }

func (s signer) Sign(r io.Reader, content []byte) ([]byte, error) {
	der, err := s.k.Sign(r, content, sm2.NewSM2SignerOption(true, nil))
	if err != nil {
		return nil, fmt.Errorf("sm2suite: sign: %w", err)
	}
	var rs derSignature
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		return nil, errors.New("sm2suite: sign: unexpected signature encoding")
	}
	out := make([]byte, SignatureSize)
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}

// derSignature is the ASN.1 form of an SM2 signature gmsm reads and writes.
type derSignature struct{ R, S *big.Int }

type verifier struct{ pub *ecdsa.PublicKey }

var errVerify = errors.New("sm2suite: signature does not verify")

func (v verifier) Verify(content, sig []byte) error {
	if len(sig) != SignatureSize {
		return errVerify
	}
	der, err := asn1.Marshal(derSignature{R: new(big.Int).SetBytes(sig[:32]), S: new(big.Int).SetBytes(sig[32:])})
	if err != nil {
		return errVerify
	}
	if !sm2.VerifyASN1WithSM2(v.pub, nil, content, der) {
		return errVerify
	}
	return nil
}
