package offline_test

import (
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/offline"
)

// TestWatchdogStoreProbe: Probe writes while the store is open, fails once
// it is closed, and leaves the journal alone.
func TestWatchdogStoreProbe(t *testing.T) {
	s, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "pos-probe-01"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Probe(); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 0 {
		t.Errorf("journal head %d after probes, want 0 (a probe is no record)", h.Seq)
	}
	if err := s.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(); err == nil {
		t.Fatal("Probe on a closed store succeeded")
	}
}
