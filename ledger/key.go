package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openykt/yktd/internal/atomicfile"
	"github.com/openykt/yktd/protocol"
)

// KeyID returns the key id of a ledger public key: "ledger-" and the first
// 8 bytes of SHA-256(key) in hex. Devices pin it with the key at enrolment.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return "ledger-" + hex.EncodeToString(h[:8])
}

// PublicKey returns the ledger's Ed25519 public key.
func (l *Ledger) PublicKey() ed25519.PublicKey { return l.key.Public().(ed25519.PublicKey) }

// Fingerprint returns the protocol.Fingerprint of the ledger's public key
// ("sha256:<hex>"): what a technician puts in a device's sync.ledger_key
// so that enrolment trusts this ledger's key only.
func (l *Ledger) Fingerprint() string { return protocol.Fingerprint(l.PublicKey()) }

// KeyID returns the ledger key's id (the kid of everything it signs).
func (l *Ledger) KeyID() string { return l.kid }

// loadOrCreateKey reads the hex Ed25519 seed at path, or makes a new key and
// writes it there atomically with mode 0600. A key file readable by group
// or others is refused.
func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("ledger: key: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("ledger: key %s has mode %04o, group or others may access it; run chmod 600 %s: %w", path, st.Mode().Perm(), path, ErrInvalid)
		}
		seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("ledger: key %s: not a hex Ed25519 seed: %w", path, ErrCorrupt)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !os.IsNotExist(err) {
		return nil, fmt.Errorf("ledger: key: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("ledger: key: %w", err)
	}
	if err := atomicfile.Write(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("ledger: key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ReadPublicKey returns the key id and public key of the ledger in data
// directory dir without opening its database (it may be serving), making
// the key first if the directory has none yet.
func ReadPublicKey(dir string) (string, ed25519.PublicKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("ledger: key: %w", err)
	}
	k, err := loadOrCreateKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return "", nil, err
	}
	pub := k.Public().(ed25519.PublicKey)
	return KeyID(pub), pub, nil
}
