// Package devkey keeps a device's signing key behind a small key-store
// interface: the key signs the device's enrolment, its journal batches and
// its requests to the ledger. File keeps it in a PEM file (device.key, mode
// 0600) in the device's data directory, the format yktd has always used; a
// secure element can implement Store later without its callers changing.
package devkey

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/openykt/yktd/protocol"
)

// Errors callers decide on with errors.Is.
var (
	// ErrNotFound: the store holds no key yet.
	ErrNotFound = errors.New("devkey: no device key")
	// ErrExists: Create would replace a key the store already holds.
	ErrExists = errors.New("devkey: a device key exists")
)

// Alg is the COSE algorithm of the keys Create makes (Ed25519).
const Alg = protocol.AlgEd25519

// Store holds a device's one signing key.
type Store interface {
	// Load returns the key, or ErrNotFound.
	Load() (Key, error)
	// Create makes a new key and keeps it; ErrExists when there is one.
	Create() (Key, error)
}

// Key is a device key: it signs under the device's id and names itself by
// the fingerprint of its public key.
type Key interface {
	// Signer returns the signer of the key under key id deviceID.
	Signer(deviceID string) (*protocol.Signer, error)
	// Fingerprint is protocol.Fingerprint of the public key, as the
	// ledger lists it.
	Fingerprint() string
}

// FileName is the device key's file in the data directory.
const FileName = "device.key"

// File is a Store in a PEM file (protocol.EncodePrivateKeyPEM), mode 0600.
type File struct {
	// Path is the key file, normally DATA_DIR/device.key.
	Path string
	// Rand is the source of new keys; nil means crypto/rand.
	Rand io.Reader
}

// InDir returns the File store of the data directory dir.
func InDir(dir string) *File { return &File{Path: filepath.Join(dir, FileName)} }

// Load reads the key file.
func (f *File) Load() (Key, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, f.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return Decode(b)
}

// Create makes a key (New) and writes it (Write).
func (f *File) Create() (Key, error) {
	k, err := New(f.Rand)
	if err != nil {
		return nil, err
	}
	if err := f.Write(k); err != nil {
		return nil, err
	}
	return k, nil
}

// Write keeps k in the file, which must not exist yet (ErrExists): a device
// key is never replaced in place. The file is written beside and renamed,
// so a power cut leaves either no key or the whole key.
func (f *File) Write(k *PrivateKey) error {
	if _, err := os.Lstat(f.Path); err == nil {
		return fmt.Errorf("%w: %s", ErrExists, f.Path)
	}
	b, err := protocol.EncodePrivateKeyPEM(k.alg, k.priv)
	if err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	tmp := f.Path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("devkey: write %s: %w", f.Path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // WriteFile keeps the mode of a leftover tmp
		return fmt.Errorf("devkey: %w", err)
	}
	if err := os.Rename(tmp, f.Path); err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	return syncDir(filepath.Dir(f.Path))
}

// LoadOrCreate loads the key of s, making it when there is none; made
// reports whether it did.
func LoadOrCreate(s Store) (k Key, made bool, err error) {
	k, err = s.Load()
	if errors.Is(err, ErrNotFound) {
		k, err = s.Create()
		return k, err == nil, err
	}
	return k, false, err
}

// PrivateKey is a device key held in memory (what File keeps).
type PrivateKey struct {
	alg  int64
	priv []byte
	fp   string
}

// New makes an Ed25519 device key in memory from r (nil: crypto/rand),
// not kept anywhere yet: provisioning keeps it only once the ledger took it.
func New(r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	priv, err := protocol.GenerateKey(Alg, r)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return newPrivateKey(Alg, priv)
}

// Decode parses a key file's PEM.
func Decode(b []byte) (*PrivateKey, error) {
	alg, priv, err := protocol.DecodePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return newPrivateKey(alg, priv)
}

func newPrivateKey(alg int64, priv []byte) (*PrivateKey, error) {
	s, err := protocol.NewSigner("device", alg, priv)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return &PrivateKey{alg: alg, priv: priv, fp: protocol.Fingerprint(s.PublicKey().Key)}, nil
}

// Signer returns the key's signer under key id deviceID.
func (k *PrivateKey) Signer(deviceID string) (*protocol.Signer, error) {
	s, err := protocol.NewSigner(deviceID, k.alg, k.priv)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	return s, nil
}

// Fingerprint returns protocol.Fingerprint of the public key.
func (k *PrivateKey) Fingerprint() string { return k.fp }

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("devkey: sync %s: %w", dir, err)
	}
	return nil
}
