package config

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cashier PIN hashing: PBKDF2-HMAC-SHA256 with a random 16-byte salt and a
// 32-byte key. A PIN has few digits, so the hash keeps the PIN out of
// sight in the configuration file but cannot stop a search of every PIN by
// someone who reads the file: the file is the technician's (0600), and the
// POS's lockout after wrong PINs is what protects the cashier's authority.
const (
	// DefaultPINIterations is what `yktd cashier-pin` uses: about 20 ms on
	// a PC, a fraction of a second to a second on the terminal's ARM core.
	DefaultPINIterations = 100_000
	// MinPINIterations and MaxPINIterations bound what a configuration may
	// ask for.
	MinPINIterations = 10_000
	MaxPINIterations = 10_000_000

	pinHashScheme = "pbkdf2-sha256"
	pinSaltLen    = 16
	pinKeyLen     = 32
)

// ErrBadPIN: a cashier PIN is 4 to 12 ASCII digits. Its message never
// quotes the PIN.
var ErrBadPIN = errors.New("config: a cashier PIN is 4 to 12 digits")

// ErrBadPINHash: pos.cashier_pin_hash is not a hash `yktd cashier-pin`
// prints (the TOML decoder names the key and line).
var ErrBadPINHash = errors.New("invalid cashier PIN hash")

// ValidPIN checks the form of a cashier PIN.
func ValidPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 12 {
		return ErrBadPIN
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return ErrBadPIN
		}
	}
	return nil
}

// PINHash is the salted hash of a cashier's PIN, written in the
// configuration as "pbkdf2-sha256$ITERATIONS$SALT$KEY" (salt and key in
// unpadded standard base64). The zero PINHash is "no PIN configured".
type PINHash struct {
	iter      int
	salt, key []byte
}

// HashPIN hashes pin with a new random salt and iterations rounds.
func HashPIN(pin string, iterations int) (PINHash, error) {
	if err := ValidPIN(pin); err != nil {
		return PINHash{}, err
	}
	if iterations < MinPINIterations || iterations > MaxPINIterations {
		return PINHash{}, fmt.Errorf("config: PIN hash iterations %d: want %d..%d", iterations, MinPINIterations, MaxPINIterations)
	}
	salt := make([]byte, pinSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return PINHash{}, fmt.Errorf("config: PIN hash salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, pin, salt, iterations, pinKeyLen)
	if err != nil {
		return PINHash{}, fmt.Errorf("config: PIN hash: %w", err)
	}
	return PINHash{iter: iterations, salt: salt, key: key}, nil
}

// IsZero reports whether no PIN is configured.
func (h PINHash) IsZero() bool { return h.key == nil }

// Iterations returns the PBKDF2 rounds of the hash (0 for the zero hash).
func (h PINHash) Iterations() int { return h.iter }

// Verify reports whether pin is the hashed PIN (in constant time once the
// key is derived). The zero hash matches nothing.
func (h PINHash) Verify(pin string) bool {
	if h.IsZero() || ValidPIN(pin) != nil {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, pin, h.salt, h.iter, pinKeyLen)
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}

// String returns the hash as the configuration writes it ("" when zero).
func (h PINHash) String() string {
	if h.IsZero() {
		return ""
	}
	enc := base64.RawStdEncoding
	return pinHashScheme + "$" + strconv.Itoa(h.iter) + "$" + enc.EncodeToString(h.salt) + "$" + enc.EncodeToString(h.key)
}

// MarshalText writes the hash as the configuration does.
func (h PINHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a hash as `yktd cashier-pin` prints it; "" is the
// zero hash.
func (h *PINHash) UnmarshalText(b []byte) error {
	*h = PINHash{}
	if len(b) == 0 {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: %s; want %s$ITERATIONS$SALT$KEY as `yktd cashier-pin` prints it", ErrBadPINHash, why, pinHashScheme)
	}
	parts := strings.Split(string(b), "$")
	if len(parts) != 4 || parts[0] != pinHashScheme {
		return bad("not a " + pinHashScheme + " hash")
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < MinPINIterations || iter > MaxPINIterations || parts[1] != strconv.Itoa(iter) {
		return bad(fmt.Sprintf("iterations must be %d..%d", MinPINIterations, MaxPINIterations))
	}
	enc := base64.RawStdEncoding.Strict()
	salt, err := enc.DecodeString(parts[2])
	if err != nil || len(salt) < pinSaltLen || len(salt) > 64 {
		return bad(fmt.Sprintf("the salt must be %d to 64 bytes of base64", pinSaltLen))
	}
	key, err := enc.DecodeString(parts[3])
	if err != nil || len(key) != pinKeyLen {
		return bad(fmt.Sprintf("the key must be %d bytes of base64", pinKeyLen))
	}
	*h = PINHash{iter: iter, salt: salt, key: key}
	return nil
}
