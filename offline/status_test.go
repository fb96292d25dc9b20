package offline_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

var since = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func snapshot() offline.StatusSnapshot {
	return offline.StatusSnapshot{Version: 10, Entries: []offline.StatusEntry{
		{CardNo: "2024000003", Reason: offline.ReasonFrozen, Since: since},
		{CardNo: "2024000001", Reason: offline.ReasonLost, Since: since},
		{CardNo: "2024000002", Reason: offline.ReasonLost, Since: since.Add(time.Hour)},
	}}
}

func TestStatusSnapshotAndLookup(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	snap := snapshot()
	d := offline.StatusDigest(snap.Entries)
	snap.Digest = d[:]
	if err := s.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		card  string
		found bool
		want  offline.StatusEntry
	}{
		{"2024000001", true, offline.StatusEntry{CardNo: "2024000001", Reason: offline.ReasonLost, Since: since, Version: 10}},
		{"2024000003", true, offline.StatusEntry{CardNo: "2024000003", Reason: offline.ReasonFrozen, Since: since, Version: 10}},
		{"2024000009", false, offline.StatusEntry{}},
	}
	for _, tt := range tests {
		t.Run(tt.card, func(t *testing.T) {
			got, found, err := s.Lookup(tt.card)
			if err != nil || found != tt.found || got != tt.want {
				t.Fatalf("Lookup = %+v, %v, %v; want %+v, %v", got, found, err, tt.want, tt.found)
			}
		})
	}
	si, err := s.StatusInfo()
	if err != nil || si.Version != 10 || si.Count != 3 || si.ByReason[offline.ReasonLost] != 2 || si.ByReason[offline.ReasonFrozen] != 1 || si.Digest != d {
		t.Fatalf("StatusInfo = %+v, %v", si, err)
	}
	// Applying the list is evidence too.
	h, _ := s.Head()
	es, _ := s.Records(h.Seq-1, 1)
	if r := es[0].Record; r.Kind != protocol.KindConfigApplied || r.Version != 10 || string(r.Digest) != string(d[:]) {
		t.Fatalf("config record = %+v", r)
	}
	// A new snapshot replaces the list entirely.
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 11, Entries: []offline.StatusEntry{{CardNo: "x1", Reason: offline.ReasonExpired}}}); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Lookup("2024000001"); found {
		t.Fatal("old entry survived a snapshot")
	}
	if si, _ := s.StatusInfo(); si.Count != 1 || si.ByReason[offline.ReasonExpired] != 1 || si.ByReason[offline.ReasonLost] != 0 {
		t.Fatalf("StatusInfo after second snapshot = %+v", si)
	}
}

func TestStatusDelta(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	if err := s.ApplySnapshot(snapshot()); err != nil {
		t.Fatal(err)
	}
	delta := offline.StatusDelta{From: 10, To: 12, Changes: []offline.StatusChange{
		{CardNo: "2024000001", Remove: true},                                  // found again
		{CardNo: "2024000002", Reason: offline.ReasonCancelled, Since: since}, // reissued
		{CardNo: "2024000004", Reason: offline.ReasonDormant, Since: since},   // new
		{CardNo: "2024000099", Remove: true},                                  // not listed: no-op
	}}
	after := []offline.StatusEntry{
		{CardNo: "2024000002", Reason: offline.ReasonCancelled, Since: since},
		{CardNo: "2024000003", Reason: offline.ReasonFrozen, Since: since},
		{CardNo: "2024000004", Reason: offline.ReasonDormant, Since: since},
	}
	want := offline.StatusDigest(after)
	delta.Digest = want[:]
	if err := s.ApplyDelta(delta); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Lookup("2024000001"); found {
		t.Fatal("removed card still listed")
	}
	if e, _, _ := s.Lookup("2024000002"); e.Reason != offline.ReasonCancelled || e.Version != 12 {
		t.Fatalf("changed entry = %+v", e)
	}
	if e, _, _ := s.Lookup("2024000003"); e.Version != 10 {
		t.Fatalf("untouched entry = %+v", e)
	}
	si, _ := s.StatusInfo()
	if si.Version != 12 || si.Digest != want || si.Count != 3 || si.ByReason[offline.ReasonLost] != 0 ||
		si.ByReason[offline.ReasonCancelled] != 1 || si.ByReason[offline.ReasonDormant] != 1 {
		t.Fatalf("StatusInfo = %+v", si)
	}
}

func TestStatusErrors(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	if err := s.ApplySnapshot(snapshot()); err != nil {
		t.Fatal(err)
	}
	set := []offline.StatusChange{{CardNo: "c9", Reason: offline.ReasonLost}}
	tests := []struct {
		name    string
		op      func() error
		wantErr error
	}{
		{"delta from old version", func() error { return s.ApplyDelta(offline.StatusDelta{From: 9, To: 11, Changes: set}) }, offline.ErrVersionGap},
		{"delta from future version", func() error { return s.ApplyDelta(offline.StatusDelta{From: 11, To: 12, Changes: set}) }, offline.ErrVersionGap},
		{"delta going nowhere", func() error { return s.ApplyDelta(offline.StatusDelta{From: 10, To: 10}) }, offline.ErrInvalid},
		{"delta wrong digest", func() error {
			return s.ApplyDelta(offline.StatusDelta{From: 10, To: 11, Changes: set, Digest: make([]byte, 32)})
		}, offline.ErrDigestMismatch},
		{"delta bad reason", func() error {
			return s.ApplyDelta(offline.StatusDelta{From: 10, To: 11, Changes: []offline.StatusChange{{CardNo: "c9", Reason: 9}}})
		}, offline.ErrInvalid},
		{"snapshot older", func() error { return s.ApplySnapshot(offline.StatusSnapshot{Version: 9}) }, offline.ErrStaleVersion},
		{"snapshot wrong digest", func() error { return s.ApplySnapshot(offline.StatusSnapshot{Version: 11, Digest: []byte{1}}) }, offline.ErrDigestMismatch},
		{"snapshot duplicate card", func() error {
			e := offline.StatusEntry{CardNo: "c1", Reason: offline.ReasonLost}
			return s.ApplySnapshot(offline.StatusSnapshot{Version: 11, Entries: []offline.StatusEntry{e, e}})
		}, offline.ErrInvalid},
		{"snapshot empty card", func() error {
			return s.ApplySnapshot(offline.StatusSnapshot{Version: 11, Entries: []offline.StatusEntry{{Reason: offline.ReasonLost}}})
		}, offline.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			// Nothing changed: a refused list leaves the old one whole.
			si, _ := s.StatusInfo()
			if e, found, _ := s.Lookup("2024000001"); si.Version != 10 || si.Count != 3 || !found || e.Reason != offline.ReasonLost {
				t.Fatalf("list changed by a refused apply: %+v", si)
			}
		})
	}
}

func TestStatusDigestIsOrderIndependentAndCanonical(t *testing.T) {
	a := snapshot().Entries
	b := []offline.StatusEntry{a[2], a[0], a[1]}
	if offline.StatusDigest(a) != offline.StatusDigest(b) {
		t.Fatal("digest depends on input order")
	}
	c := snapshot().Entries
	c[0].Since = c[0].Since.Add(time.Second)
	if offline.StatusDigest(a) == offline.StatusDigest(c) {
		t.Fatal("digest ignores since")
	}
	if offline.StatusDigest(nil) == offline.StatusDigest(a) {
		t.Fatal("empty list digests like a full one")
	}
}

func TestParseReason(t *testing.T) {
	for r := offline.ReasonLost; r <= offline.ReasonExpired; r++ {
		got, err := offline.ParseReason(r.String())
		if err != nil || got != r {
			t.Fatalf("ParseReason(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := offline.ParseReason("stolen"); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("ParseReason(stolen) = %v", err)
	}
}

// TestStatusDigestVector checks that the store's digest is protocol's (the
// definition and its independent vectors live in protocol/status_test.go).
func TestStatusDigestVector(t *testing.T) {
	tests := []struct {
		entries []offline.StatusEntry
		want    string
	}{
		{nil, "045c3dd7157950d44b161b3bbce1d18737bafcbc978fed475be589432ce6bb6b"},
		{[]offline.StatusEntry{{CardNo: "7", Reason: offline.ReasonLost, Since: time.Unix(60, 0)}},
			"ee07f5fdace196dc843ebefd5e7186184ff6d37b6b6dddd4b600d90c221a6b64"},
	}
	for _, tt := range tests {
		d := offline.StatusDigest(tt.entries)
		if got := hex.EncodeToString(d[:]); got != tt.want {
			t.Errorf("StatusDigest(%v) = %s, want %s", tt.entries, got, tt.want)
		}
	}
}

// TestStatusDeltaMatchesModel applies random deltas (cards chosen from a
// small range, so that partitions hold several cards and cards come and
// go) and checks after each that the incrementally kept digest, counts and
// lookups equal a recomputation from a plain map.
func TestStatusDeltaMatchesModel(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	model := map[string]offline.StatusEntry{}
	rng := rand.New(rand.NewPCG(7, 8))
	card := func() string {
		// 2024000006 and 2024000029 share a partition; numbers and
		// non-digit cards of odd and even length mix.
		switch n := rng.IntN(60); {
		case n < 2:
			return []string{"2024000006", "2024000029"}[n]
		case n < 4:
			return []string{"X-77", "123"}[n-2]
		default:
			return fmt.Sprintf("20240%05d", n)
		}
	}
	version := uint64(1)
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 1}); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 40; round++ {
		d := offline.StatusDelta{From: version, To: version + 1}
		seen := map[string]bool{}
		for k := rng.IntN(30); k >= 0; k-- {
			c := card()
			if seen[c] {
				continue
			}
			seen[c] = true
			ch := offline.StatusChange{CardNo: c, Reason: offline.Reason(1 + rng.IntN(5)), Since: since.Add(time.Duration(rng.IntN(1000)) * time.Second), Remove: rng.IntN(3) == 0}
			d.Changes = append(d.Changes, ch)
			if ch.Remove {
				delete(model, c)
			} else {
				model[c] = offline.StatusEntry{CardNo: c, Reason: ch.Reason, Since: ch.Since, Version: d.To}
			}
		}
		var all []offline.StatusEntry
		counts := map[offline.Reason]uint64{}
		for _, e := range model {
			all = append(all, e)
			counts[e.Reason]++
		}
		want := offline.StatusDigest(all)
		d.Digest = want[:]
		if err := s.ApplyDelta(d); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		version = d.To
		si, err := s.StatusInfo()
		if err != nil || si.Digest != want || si.Count != uint64(len(model)) {
			t.Fatalf("round %d: StatusInfo = %+v, %v; want %d entries", round, si, err, len(model))
		}
		for r, n := range counts {
			if si.ByReason[r] != n {
				t.Fatalf("round %d: %v count %d, want %d", round, r, si.ByReason[r], n)
			}
		}
		for i := 0; i < 60; i++ {
			c := fmt.Sprintf("20240%05d", i)
			got, found, err := s.Lookup(c)
			w, listed := model[c]
			if err != nil || found != listed || (listed && (got.Reason != w.Reason || !got.Since.Equal(w.Since) || got.Version != w.Version)) {
				t.Fatalf("round %d: Lookup(%s) = %+v %v %v, want %+v %v", round, c, got, found, err, w, listed)
			}
		}
	}
	if _, found, _ := s.Lookup(string(make([]byte, 40))); found {
		t.Fatal("invalid card number found")
	}
}

func TestStatusDeltaRefusesDuplicateCard(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	if err := s.ApplySnapshot(snapshot()); err != nil {
		t.Fatal(err)
	}
	err := s.ApplyDelta(offline.StatusDelta{From: 10, To: 11, Changes: []offline.StatusChange{
		{CardNo: "2024000001", Remove: true}, {CardNo: "2024000001", Reason: offline.ReasonLost},
	}})
	if !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("ApplyDelta with a card twice = %v, want ErrInvalid", err)
	}
}
