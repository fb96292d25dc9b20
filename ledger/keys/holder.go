package keys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode"

	"github.com/openykt/yktd/internal/atomicfile"
)

// HolderKeySize is the size of the holder secret.
const HolderKeySize = 32

// SoftwareHolder is the account side of the key service in process: two
// keys derived from one 32-byte secret (the ledger's holder.key, 0600),
//
//	Kpin = HMAC-SHA256(secret, "yktd holder pin verification key v1")
//	Kid  = HMAC-SHA256(secret, "yktd holder id digest key v1")
//
// The PIN verification value of a PIN for an account is
//
//	PVV = HMAC-SHA256(Kpin, "yktd-pvv-v1" ‖ 00 ‖ account ‖ 00 ‖ salt ‖ pin)
//
// with a random salt per PIN setting (stored beside it), and an ID
// number's digest HMAC-SHA256(Kid, "yktd-id-v1" ‖ 00 ‖ normalised id). A
// stolen database without the secret gives neither PINs (no offline
// guessing of the 10^6 six-digit PINs) nor ID numbers.
type SoftwareHolder struct {
	kpin, kid []byte
}

var _ Holder = (*SoftwareHolder)(nil)

// NewSoftwareHolder returns the holder key service of secret
// (HolderKeySize bytes).
func NewSoftwareHolder(secret []byte) (*SoftwareHolder, error) {
	if len(secret) != HolderKeySize {
		return nil, fmt.Errorf("keys: holder secret of %d bytes, want %d", len(secret), HolderKeySize)
	}
	d := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return &SoftwareHolder{kpin: d("yktd holder pin verification key v1"), kid: d("yktd holder id digest key v1")}, nil
}

// PINVerificationValue returns the PVV of pin (see SoftwareHolder).
func (h *SoftwareHolder) PINVerificationValue(ctx context.Context, account string, salt, pin []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keys: pvv: %w", err)
	}
	m := hmac.New(sha256.New, h.kpin)
	m.Write([]byte("yktd-pvv-v1\x00"))
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write(salt)
	m.Write(pin)
	return m.Sum(nil), nil
}

// IDDigest returns the keyed digest of a national ID number.
func (h *SoftwareHolder) IDDigest(ctx context.Context, id string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keys: id digest: %w", err)
	}
	m := hmac.New(sha256.New, h.kid)
	m.Write([]byte("yktd-id-v1\x00"))
	m.Write([]byte(NormaliseID(id)))
	return m.Sum(nil), nil
}

// NormaliseID removes spaces and makes letters upper case (the final x of
// an 18-digit resident ID is X).
func NormaliseID(id string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToUpper(r)
	}, id)
}

// LoadOrCreateHolderKey reads the holder secret at path (hex, mode 0600)
// or, when there is none, makes one and writes it atomically. A file of
// another mode or content is refused: the ledger would otherwise make new
// PIN verification values unverifiable.
func LoadOrCreateHolderKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, HolderKeySize)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("keys: holder key: %w", err)
		}
		if err := atomicfile.Write(path, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("keys: holder key: %w", err)
		}
		return secret, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: holder key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keys: holder key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: holder key %s has mode %04o, run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	secret, err := ParseHolderKey(b)
	if err != nil {
		return nil, fmt.Errorf("keys: holder key %s: %w (restore it from the backup: the accounts' PINs depend on it)", path, err)
	}
	return secret, nil
}

// maxHolderKeyFile bounds a holder key file.
const maxHolderKeyFile = 1024

// ParseHolderKey decodes a holder key file: HolderKeySize bytes in hex,
// surrounding white space ignored.
func ParseHolderKey(b []byte) ([]byte, error) {
	if len(b) > maxHolderKeyFile {
		return nil, fmt.Errorf("%d bytes, not a holder key", len(b))
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) != HolderKeySize {
		return nil, fmt.Errorf("not %d bytes of hex", HolderKeySize)
	}
	return secret, nil
}
