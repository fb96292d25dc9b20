package offline_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if s.DeviceID() != offlinetest.DeviceID || s.Genesis() != protocol.GenesisHash(offlinetest.DeviceID) {
		t.Fatalf("device %q genesis %x", s.DeviceID(), s.Genesis())
	}
}

func TestOpenTightensLooseMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "dev-a.db")
	s, err := offline.Open(existing, offline.Options{DeviceID: "dev-a"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	tests := []struct {
		name    string
		path    string
		opts    offline.Options
		wantErr error
	}{
		{"new store without device id", filepath.Join(dir, "new.db"), offline.Options{}, offline.ErrInvalid},
		{"other device", existing, offline.Options{DeviceID: "dev-b"}, offline.ErrDeviceMismatch},
		{"read-only missing file", filepath.Join(dir, "missing.db"), offline.Options{ReadOnly: true}, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := offline.Open(tt.path, tt.opts)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSecondOpenIsInUse(t *testing.T) {
	_, path := offlinetest.Open(t, offline.Options{})
	for _, ro := range []bool{false, true} {
		start := time.Now()
		s2, err := offline.Open(path, offline.Options{LockTimeout: 100 * time.Millisecond, ReadOnly: ro})
		if err == nil {
			s2.Close()
		}
		if !errors.Is(err, offline.ErrStoreInUse) {
			t.Fatalf("read-only=%v: second Open = %v, want ErrStoreInUse", ro, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("second Open took %v: it hangs instead of timing out", d)
		}
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "tamper"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := offline.Open(path, offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.DeviceID() != "d" {
		t.Fatalf("device = %q", ro.DeviceID())
	}
	if res, err := ro.Verify(); err != nil || res.Count != 1 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if _, err := ro.Append(protocol.Record{Kind: protocol.KindAlarm}); !errors.Is(err, offline.ErrReadOnly) {
		t.Fatalf("Append on read-only = %v, want ErrReadOnly", err)
	}
}

// TestEpoch: a new store takes its epoch from the options and links its
// first record to that epoch's genesis; reopened, it keeps its epoch
// whatever the options say.
func TestEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "d", Epoch: 2})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := s.Append(protocol.Record{Kind: protocol.KindStoreStarted, Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Records(seq-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := protocol.EpochGenesis("d", 2)
	if s.Epoch() != 2 || s.Genesis() != want || !bytes.Equal(e[0].Record.Prev, want[:]) {
		t.Fatalf("epoch %d genesis %x, first record links to %x", s.Epoch(), s.Genesis(), e[0].Record.Prev)
	}
	if s.SyncSource().Epoch() != 2 {
		t.Fatal("sync source epoch")
	}
	s.Close()
	for _, o := range []offline.Options{{}, {DeviceID: "d"}, {DeviceID: "d", Epoch: 5}} {
		s, err := offline.Open(path, o)
		if err != nil {
			t.Fatal(err)
		}
		if s.Epoch() != 2 {
			t.Fatalf("reopened with %+v: epoch %d", o, s.Epoch())
		}
		if _, err := s.Verify(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	// A first store is epoch 0 with the plain genesis.
	s0, _ := offlinetest.Open(t, offline.Options{})
	if s0.Epoch() != 0 || s0.Genesis() != protocol.GenesisHash(offlinetest.DeviceID) {
		t.Fatalf("first store: epoch %d", s0.Epoch())
	}
}
