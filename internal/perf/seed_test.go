package perf

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
)

func TestListedCard(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 9, 10, 999_999, 1_000_000} {
		c := ListedCard(i)
		if len(c) != 20 || !strings.HasPrefix(c, "20") || !ledger.ValidCardNo(c) || seen[c] {
			t.Errorf("ListedCard(%d) = %q", i, c)
		}
		seen[c] = true
	}
	if ListedCard(42) != "20000000000000000042" {
		t.Errorf("ListedCard(42) = %q", ListedCard(42))
	}
	for i := range 10 {
		if r := listedReason(i); r < ledger.ReasonLost || r > ledger.ReasonExpired {
			t.Errorf("listedReason(%d) = %d", i, r)
		}
	}
}

// A real ledger in a temporary directory: chunks become versions, the
// list holds every card with its reason; a store that holds the ledger's
// version is topped up past it and keeps the version.
func TestSeedLedgerAndTopUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledger")
	v, err := SeedLedger(dir, 0, 1200, 500)
	if err != nil {
		t.Fatal(err)
	}
	if v != 4 { // the empty first list, then 3 chunks
		t.Fatalf("version %d, want 4", v)
	}
	l, err := ledger.Open(dir, ledger.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n, err := l.StatusCount()
	e, ok, err2 := l.StatusOf(ListedCard(7))
	l.Close()
	if err != nil || err2 != nil || n != 1200 || !ok || e.Reason != listedReason(7) || e.Since != seedSince {
		t.Fatalf("count %d (%v), card 7 %+v %v (%v)", n, err, e, ok, err2)
	}

	path := filepath.Join(t.TempDir(), "yktd.db")
	if _, err := TopUpStore(path, "PERF-POS", 10); err == nil || !strings.Contains(err.Error(), "no status list") {
		t.Fatalf("a store without a list: %v", err)
	}
	s, err := offline.Open(path, offline.Options{DeviceID: "PERF-POS"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 4}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	info, err := TopUpStore(path, "PERF-POS", 3000)
	if err != nil {
		t.Fatal(err)
	}
	if info.Count != 3000 || info.Version != 4 {
		t.Fatalf("after the top-up: %d cards, version %d", info.Count, info.Version)
	}
	s, err = offline.Open(path, offline.Options{DeviceID: "PERF-POS", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Lookup(ListedCard(2999))
	if err != nil || !ok || got.Reason != offline.Reason(listedReason(2999)) {
		t.Fatalf("lookup of the last card: %+v %v %v", got, ok, err)
	}
}
