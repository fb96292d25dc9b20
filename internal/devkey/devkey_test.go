package devkey_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/internal/devkey"
	"github.com/openykt/yktd/protocol"
)

// TestDeviceKeyFileFormat: a device.key written the way yktd always wrote
// it (protocol.EncodePrivateKeyPEM of an Ed25519 key, 0600) loads, and
// signs with the same public key: devices in the field keep their identity.
func TestDeviceKeyFileFormat(t *testing.T) {
	dir := t.TempDir()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protocol.EncodePrivateKeyPEM(protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, devkey.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := protocol.NewSigner("POS-1", protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	k, err := devkey.InDir(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Signer("POS-1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.PublicKey().Key, old.PublicKey().Key) || s.KeyID() != "POS-1" {
		t.Fatalf("loaded key %x, written %x", s.PublicKey().Key, old.PublicKey().Key)
	}
	if k.Fingerprint() != protocol.Fingerprint(old.PublicKey().Key) {
		t.Errorf("fingerprint %s", k.Fingerprint())
	}
}

// TestDeviceKeyCreate: Create makes a 0600 key that Load reads back, and
// never replaces it; a broken file is an error, not a new key.
func TestDeviceKeyCreate(t *testing.T) {
	dir := t.TempDir()
	st := devkey.InDir(dir)
	if _, err := st.Load(); !errors.Is(err, devkey.ErrNotFound) {
		t.Fatalf("load of nothing: %v", err)
	}
	k, made, err := devkey.LoadOrCreate(st)
	if err != nil || !made {
		t.Fatalf("load or create: %v %v", made, err)
	}
	fi, err := os.Stat(st.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	before, _ := os.ReadFile(st.Path)
	if _, err := st.Create(); !errors.Is(err, devkey.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	after, _ := os.ReadFile(st.Path)
	if !bytes.Equal(before, after) {
		t.Fatal("the key was replaced")
	}
	k2, made, err := devkey.LoadOrCreate(st)
	if err != nil || made || k2.Fingerprint() != k.Fingerprint() {
		t.Fatalf("reload: %v %v %s %s", made, err, k2.Fingerprint(), k.Fingerprint())
	}
	if err := os.WriteFile(st.Path, []byte("-----BEGIN junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := devkey.LoadOrCreate(st); err == nil || errors.Is(err, devkey.ErrNotFound) {
		t.Fatalf("broken key file: %v", err)
	}
}
