package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PEM block types of the key files. The body is the suite's raw key; the
// "Alg" header names the COSE algorithm, the optional "Kid" header the key
// id. Writing and permissions (0600 for private keys) are the caller's:
// this package does no file I/O.
const (
	PEMPrivateKey = "YKTD PRIVATE KEY"
	PEMPublicKey  = "YKTD PUBLIC KEY"
)

// ErrKeyFormat is returned for key bytes that do not parse.
var ErrKeyFormat = errors.New("protocol: invalid key file")

// EncodePrivateKeyPEM returns the PEM form of a private key of suite alg.
// It checks that the key parses.
func EncodePrivateKeyPEM(alg int64, private []byte) ([]byte, error) {
	s, err := LookupSuite(alg)
	if err != nil {
		return nil, err
	}
	if _, err := s.NewSigner(private); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	return pem.EncodeToMemory(&pem.Block{
		Type:    PEMPrivateKey,
		Headers: map[string]string{"Alg": strconv.FormatInt(alg, 10)},
		Bytes:   private,
	}), nil
}

// DecodePrivateKeyPEM parses a private key file: a YKTD PRIVATE KEY block,
// or a PKCS#8 "PRIVATE KEY" block holding an Ed25519 key (as `openssl
// genpkey -algorithm ed25519` writes it). It returns the algorithm and the
// raw private key. Nothing but the one block (and white space) may be in b.
func DecodePrivateKeyPEM(b []byte) (alg int64, private []byte, err error) {
	blk, err := onePEM(b)
	if err != nil {
		return 0, nil, err
	}
	switch blk.Type {
	case PEMPrivateKey:
		alg, err = pemAlg(blk)
		if err != nil {
			return 0, nil, err
		}
		s, err := LookupSuite(alg)
		if err != nil {
			return 0, nil, err
		}
		if _, err := s.NewSigner(blk.Bytes); err != nil {
			return 0, nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
		}
		return alg, blk.Bytes, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return 0, nil, fmt.Errorf("%w: PKCS#8 key of type %T", ErrKeyFormat, k)
		}
		return AlgEd25519, ek.Seed(), nil
	}
	return 0, nil, fmt.Errorf("%w: PEM block %q", ErrKeyFormat, blk.Type)
}

// EncodePublicKeyPEM returns the PEM form of a public key, with its key id
// when it has one.
func EncodePublicKeyPEM(pk PublicKey) ([]byte, error) {
	s, err := LookupSuite(pk.Alg)
	if err != nil {
		return nil, err
	}
	if _, err := s.NewVerifier(pk.Key); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	h := map[string]string{"Alg": strconv.FormatInt(pk.Alg, 10)}
	if pk.KeyID != "" {
		h["Kid"] = pk.KeyID
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMPublicKey, Headers: h, Bytes: pk.Key}), nil
}

// DecodePublicKeyPEM parses a public key file: a YKTD PUBLIC KEY block or a
// PKIX "PUBLIC KEY" block holding an Ed25519 key (KeyID then empty).
func DecodePublicKeyPEM(b []byte) (PublicKey, error) {
	blk, err := onePEM(b)
	if err != nil {
		return PublicKey{}, err
	}
	switch blk.Type {
	case PEMPublicKey:
		alg, err := pemAlg(blk)
		if err != nil {
			return PublicKey{}, err
		}
		s, err := LookupSuite(alg)
		if err != nil {
			return PublicKey{}, err
		}
		if _, err := s.NewVerifier(blk.Bytes); err != nil {
			return PublicKey{}, fmt.Errorf("%w: %w", ErrKeyFormat, err)
		}
		kid := blk.Headers["Kid"]
		if kid != "" && !validName(kid, MaxKeyIDLen) {
			return PublicKey{}, fmt.Errorf("%w: invalid key id", ErrKeyFormat)
		}
		return PublicKey{KeyID: kid, Alg: alg, Key: blk.Bytes}, nil
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return PublicKey{}, fmt.Errorf("%w: %w", ErrKeyFormat, err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return PublicKey{}, fmt.Errorf("%w: PKIX key of type %T", ErrKeyFormat, k)
		}
		return PublicKey{Alg: AlgEd25519, Key: []byte(ek)}, nil
	}
	return PublicKey{}, fmt.Errorf("%w: PEM block %q", ErrKeyFormat, blk.Type)
}

func onePEM(b []byte) (*pem.Block, error) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKeyFormat)
	}
	for _, c := range rest {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return nil, fmt.Errorf("%w: data after the PEM block", ErrKeyFormat)
		}
	}
	return blk, nil
}

func pemAlg(blk *pem.Block) (int64, error) {
	alg, err := strconv.ParseInt(blk.Headers["Alg"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: Alg header: %w", ErrKeyFormat, err)
	}
	return alg, nil
}

// Fingerprint names a public key for a person to compare and for a
// configuration to pin: "sha256:" and the lowercase hex of SHA-256 over
// the raw key bytes (for Ed25519 the 32-byte key; for SM2 the 65-byte
// uncompressed point). ledgerd prints its key's fingerprint; a device's
// sync.ledger_key holds it, so that enrolment trusts only that key.
func Fingerprint(key []byte) string {
	h := sha256.Sum256(key)
	return "sha256:" + hex.EncodeToString(h[:])
}

// ValidFingerprint reports whether s has the form Fingerprint returns.
func ValidFingerprint(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}
