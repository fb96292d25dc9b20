package offline_test

import (
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
