package perf

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// The listed cards of the perf run: numbers no test card has (those start
// with 1001), every reason in turn, all listed since one fixed moment, so
// that the ledger and a store seeded separately hold the same entries.
const (
	cardPrefix = "20"
	seedSince  = 1_767_225_600 // 2026-01-01T00:00:00Z
)

// ListedCard is the number of the i-th listed card: 20 digits, "20" and i.
func ListedCard(i int) string { return fmt.Sprintf("%s%018d", cardPrefix, i) }

// listedReason is the i-th card's reason: lost, frozen, dormant,
// cancelled, expired in turn.
func listedReason(i int) uint8 { return uint8(i%5) + ledger.ReasonLost }

// SeedLedger lists cards from to to-1 on the ledger in data directory dir
// in chunks of chunk cards, each a new status-list version (ledgerd status
// add makes one version per card: a million calls), with the ledger's own
// API, in this process. No ledgerd may be serving dir. It returns the
// status-list version reached.
func SeedLedger(dir string, from, to, chunk int) (uint64, error) {
	l, err := ledger.Open(dir, ledger.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 0, fmt.Errorf("perf: seed ledger: %w", err)
	}
	var v uint64
	for i := from; i < to; i += chunk {
		changes := make([]protocol.StatusEntry, 0, min(chunk, to-i))
		for j := i; j < min(i+chunk, to); j++ {
			changes = append(changes, protocol.StatusEntry{CardNo: ListedCard(j), Reason: listedReason(j), Since: seedSince})
		}
		// In the ledger's key order (partition, card): bbolt inserts into
		// a node that grows until the commit splits it, so keys in random
		// order make one big change quadratic (40,000 cards: 3.5 s; in
		// order: 0.1 s).
		slices.SortFunc(changes, func(a, b protocol.StatusEntry) int { return cmpStatusKey(a.CardNo, b.CardNo) })
		if v, err = l.ChangeStatus(changes); err != nil {
			l.Close()
			return 0, fmt.Errorf("perf: seed ledger: cards %d..%d: %w", i, i+len(changes)-1, err)
		}
	}
	if v == 0 {
		if v, _, err = l.StatusVersion(); err != nil {
			l.Close()
			return 0, fmt.Errorf("perf: seed ledger: %w", err)
		}
	}
	return v, l.Close()
}

// cmpStatusKey orders card numbers as the ledger's status bucket keys
// them: by protocol.StatusPartition, then by number.
func cmpStatusKey(a, b string) int {
	pa, pb := protocol.StatusPartition([]byte(a)), protocol.StatusPartition([]byte(b))
	if pa != pb {
		return cmp.Compare(pa, pb)
	}
	return strings.Compare(a, b)
}

// TopUpStore replaces the status list of the device store at path (not
// open elsewhere: the daemon stopped) with the cards 0 to n-1, keeping the
// version it holds, through offline.Store.ApplySnapshot: the call the sync
// client makes with a snapshot it verified. The list the ledger sent (the
// first cards, the same entries) stays; the rest is added. It returns the
// list's size and version afterwards.
func TopUpStore(path, deviceID string, n int) (offline.StatusInfo, error) {
	s, err := offline.Open(path, offline.Options{DeviceID: deviceID})
	if err != nil {
		return offline.StatusInfo{}, fmt.Errorf("perf: top up store: %w", err)
	}
	defer s.Close()
	cur, err := s.StatusInfo()
	if err != nil {
		return offline.StatusInfo{}, fmt.Errorf("perf: top up store: %w", err)
	}
	if cur.Version == 0 {
		return offline.StatusInfo{}, fmt.Errorf("perf: top up store %s: it holds no status list from the ledger yet", path)
	}
	entries := make([]offline.StatusEntry, n)
	since := time.Unix(seedSince, 0).UTC()
	for i := range entries {
		entries[i] = offline.StatusEntry{CardNo: ListedCard(i), Reason: offline.Reason(listedReason(i)), Since: since}
	}
	d := offline.StatusDigest(entries)
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: cur.Version, Entries: entries, Digest: d[:]}); err != nil {
		return offline.StatusInfo{}, fmt.Errorf("perf: top up store: %w", err)
	}
	info, err := s.StatusInfo()
	if err != nil {
		return offline.StatusInfo{}, fmt.Errorf("perf: top up store: %w", err)
	}
	if err := s.Close(); err != nil {
		return offline.StatusInfo{}, fmt.Errorf("perf: top up store: %w", err)
	}
	return info, nil
}
