package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// runningLog is what the daemon logs once it serves.
const runningLog = `msg="yktd: running"`

// writeDeviceKey leaves a device key in dir, as the first start with a
// ledger configured does before enrolment.
func writeDeviceKey(t *testing.T, dir string) {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protocol.EncodePrivateKeyPEM(protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, deviceKeyFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// storeFacts opens a store read-only and returns its epoch and records,
// failing unless the chain verifies.
func storeFacts(t *testing.T, path string) (uint64, []offline.Entry) {
	t.Helper()
	s, err := offline.Open(path, offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Verify()
	if err != nil {
		t.Fatalf("the chain of %s does not verify: %v", path, err)
	}
	es, err := s.Records(0, int(v.Head.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	return s.Epoch(), es
}

func readEpochFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "store.epoch"))
	if err != nil {
		t.Fatalf("epoch file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// refused runs yktd args, which must exit with code and say every one of
// want on stderr.
func refused(t *testing.T, code int, want []string, args ...string) {
	t.Helper()
	p := startYktd(t, args...)
	if got := p.exit(t); got != code {
		t.Fatalf("yktd %q: exit %d, want %d\nstderr:\n%s", args, got, code, p.stderr)
	}
	for _, w := range want {
		if !strings.Contains(p.stderr.String(), w) {
			t.Errorf("yktd %q: stderr does not say %q:\n%s", args, w, p.stderr)
		}
	}
}

// TestRunRefusesIdentityWithoutStore: a device whose store was deleted or
// emptied while its identity (device.key, ledger.pub) stayed must not start
// a new chain by itself (the ledger would refuse record 1 as a fork and
// strand every sale): it refuses with exit code 4 and says what to do.
// --new-store starts the device's next journal epoch; it never replaces a
// store that has content.
func TestRunRefusesIdentityWithoutStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := writeDeviceConfig(t, testGateConfig, dir)
	db := filepath.Join(dir, "yktd.db")

	// The first start makes the first store: epoch 0, recorded beside it.
	p := startYktd(t, "run", "--config", cfg)
	p.waitLog(t, runningLog)
	if code := p.term(t); code != 0 {
		t.Fatalf("first start: exit %d\nstderr:\n%s", code, p.stderr)
	}
	if e, _ := storeFacts(t, db); e != 0 {
		t.Fatalf("first store epoch %d", e)
	}
	if got := readEpochFile(t, dir); got != "0" {
		t.Fatalf("epoch file after the first store: %q, want 0", got)
	}
	firstStore := filepath.Join(t.TempDir(), "first.db")
	copyFile(t, db, firstStore)
	writeDeviceKey(t, dir)

	// Deleted, then emptied: refused, nothing made or changed.
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	want := []string{db, deviceKeyFile, "--new-store"}
	refused(t, 4, want, "run", "--config", cfg)
	if _, err := os.Stat(db); err == nil {
		t.Fatal("the refused start made a store")
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, 4, want, "run", "--config", cfg)
	if st, err := os.Stat(db); err != nil || st.Size() != 0 {
		t.Fatalf("the refused start changed the empty store: %v %v", st, err)
	}

	// --new-store: the next epoch, opened by a store-started record.
	p = startYktd(t, "run", "--config", cfg, "--new-store")
	p.waitLog(t, runningLog)
	if code := p.term(t); code != 0 {
		t.Fatalf("--new-store: exit %d\nstderr:\n%s", code, p.stderr)
	}
	epoch, es := storeFacts(t, db)
	if epoch != 1 || len(es) == 0 || es[0].Record.Kind != protocol.KindStoreStarted || es[0].Record.Version != 1 || es[0].Record.Seq != 1 {
		t.Fatalf("after --new-store: epoch %d, first record %+v", epoch, es)
	}
	if want := protocol.EpochGenesis("GATE-TEST-01", 1); !bytes.Equal(es[0].Record.Prev, want[:]) {
		t.Errorf("the new chain does not start at epoch 1's genesis")
	}
	if got := readEpochFile(t, dir); got != "1" {
		t.Errorf("epoch file after --new-store: %q, want 1", got)
	}

	// The new store is the store from now on: a plain start uses it, and
	// --new-store refuses to replace it.
	p = startYktd(t, "run", "--config", cfg)
	p.waitLog(t, runningLog)
	if code := p.term(t); code != 0 {
		t.Fatalf("start on the new store: exit %d\nstderr:\n%s", code, p.stderr)
	}
	if e, es2 := storeFacts(t, db); e != 1 || es2[0].Record.Kind != protocol.KindStoreStarted || len(es2) < len(es) {
		t.Errorf("the restart changed the new store: epoch %d, %d records", e, len(es2))
	}
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, 2, []string{"--new-store", db, "not empty"}, "run", "--config", cfg, "--new-store")
	if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
		t.Error("a refused --new-store changed the store")
	}

	// A damaged store with content is never removed by --new-store.
	garbage := bytes.Repeat([]byte("not a store "), 1000)
	if err := os.WriteFile(db, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, 2, []string{"--new-store", db}, "run", "--config", cfg, "--new-store")
	if after, _ := os.ReadFile(db); !bytes.Equal(after, garbage) {
		t.Error("--new-store touched a damaged store")
	}

	// An older store put back behind the device's newer epoch: refused.
	copyFile(t, firstStore, db)
	refused(t, 4, []string{"epoch 0", "epoch 1"}, "run", "--config", cfg)

	// The pinned ledger key alone is an identity too.
	if err := os.Remove(db); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, deviceKeyFile), filepath.Join(dir, ledgerKeyFile)); err != nil {
		t.Fatal(err)
	}
	refused(t, 4, []string{db, ledgerKeyFile, "--new-store"}, "run", "--config", cfg)
	p = startYktd(t, "run", "--config", cfg, "--new-store")
	p.waitLog(t, runningLog)
	if code := p.term(t); code != 0 {
		t.Fatalf("second --new-store: exit %d\nstderr:\n%s", code, p.stderr)
	}
	if e, es := storeFacts(t, db); e != 2 || es[0].Record.Kind != protocol.KindStoreStarted || es[0].Record.Version != 2 {
		t.Errorf("second --new-store: epoch %d, first record %+v", e, es[0].Record)
	}
}

// TestRunSimRefusesIdentityWithoutStore: the simulator keeps its device's
// identity in --dir like a device; a deleted store is refused there too.
func TestRunSimRefusesIdentityWithoutStore(t *testing.T) {
	dir := t.TempDir()
	writeDeviceKey(t, dir)
	r := startRun(t, 20*time.Second, nil, "run", "--sim", "--no-ledger", "--auto", "0", "--dir", dir)
	if code := r.exited(t); code != 4 {
		t.Fatalf("exit %d, want 4\nstderr:\n%s", code, r.stderr)
	}
	if msg := r.stderr.String(); !strings.Contains(msg, "--new-store") {
		t.Errorf("stderr does not say what to do:\n%s", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "yktd.db")); err == nil {
		t.Error("the refused start made a store")
	}
}
