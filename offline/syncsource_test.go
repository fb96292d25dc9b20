package offline_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

func TestSyncSourceRecords(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	for i := 0; i < 5; i++ {
		if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "2024000001", Credential: "card"}); err != nil {
			t.Fatal(err)
		}
	}
	src := s.SyncSource()
	raw, err := src.RawRecords(1, 3)
	if err != nil || len(raw) != 3 {
		t.Fatalf("RawRecords = %d, %v", len(raw), err)
	}
	es, _ := s.Records(1, 3)
	for i := range es {
		if !bytes.Equal(es[i].Raw, raw[i]) {
			t.Fatalf("record %d differs", i+2)
		}
	}
	seq, h, err := src.Cursor()
	if err != nil || seq != 0 || h != s.Genesis() {
		t.Fatalf("Cursor = %d %x %v", seq, h, err)
	}
	if err := src.Ack(4, es[2].Hash); err != nil {
		t.Fatal(err)
	}
	if seq, h, _ := src.Cursor(); seq != 4 || h != es[2].Hash {
		t.Fatalf("Cursor after ack = %d %x", seq, h)
	}
	if hs, hh, err := src.Head(); err != nil || hs != 5 || hh == h {
		t.Fatalf("Head = %d %v", hs, err)
	}
}

func protoSnapshot(v uint64, items ...protocol.StatusItem) protocol.StatusSnapshot {
	m := protocol.StatusSnapshot{Version: v, Entries: items}
	d := protocol.StatusDigest(m.StatusEntries())
	m.Digest = d[:]
	return m
}

func TestSyncSourceStatus(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	src := s.SyncSource()
	a := protocol.StatusItem{Card: "2024000001", Reason: 1, Since: 1709251200}
	b := protocol.StatusItem{Card: "2024000002", Reason: 2, Since: 1709251300}
	if err := src.ApplyStatusSnapshot(protoSnapshot(5, a, b)); err != nil {
		t.Fatal(err)
	}
	if v, err := src.StatusVersion(); err != nil || v != 5 {
		t.Fatalf("StatusVersion = %d %v", v, err)
	}
	e, found, _ := s.Lookup("2024000002")
	if !found || e.Reason != offline.ReasonFrozen || e.Since.Unix() != 1709251300 {
		t.Fatalf("Lookup = %+v %v", e, found)
	}
	// Delta 5→6: remove a, add c; digest of the list at 6.
	c := protocol.StatusItem{Card: "2024000003", Reason: 3, Since: 1709251400}
	at6 := protoSnapshot(6, b, c)
	delta := protocol.StatusDelta{From: 5, To: 6, Changes: []protocol.StatusItem{{Card: a.Card}, c}, Digest: at6.Digest}
	head, _ := s.Head()

	bad := delta
	bad.Digest = bytes.Repeat([]byte{1}, 32)
	refusals := []struct {
		name string
		err  error
		fn   func() error
	}{
		{"older snapshot", offline.ErrStaleVersion, func() error { return src.ApplyStatusSnapshot(protoSnapshot(4, a)) }},
		{"snapshot digest", offline.ErrDigestMismatch, func() error {
			m := protoSnapshot(7, a)
			m.Digest = at6.Digest
			return src.ApplyStatusSnapshot(m)
		}},
		{"delta digest", offline.ErrDigestMismatch, func() error { return src.ApplyStatusDelta(bad) }},
		{"delta gap", offline.ErrVersionGap, func() error {
			d := delta
			d.From, d.To = 6, 7
			return src.ApplyStatusDelta(d)
		}},
		{"stale delta", offline.ErrStaleVersion, func() error {
			d := delta
			d.From, d.To = 3, 5
			return src.ApplyStatusDelta(d)
		}},
	}
	for _, r := range refusals {
		if err := r.fn(); !errors.Is(err, r.err) {
			t.Errorf("%s: %v, want %v", r.name, err, r.err)
		}
	}
	if h, _ := s.Head(); h.Seq != head.Seq {
		t.Fatalf("refused applies journalled: %d → %d", head.Seq, h.Seq)
	}
	if v, _ := src.StatusVersion(); v != 5 {
		t.Fatalf("version after refusals = %d", v)
	}
	if err := src.ApplyStatusDelta(delta); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Lookup(a.Card); found {
		t.Fatal("removed card still listed")
	}
	if si, _ := s.StatusInfo(); si.Version != 6 || !bytes.Equal(si.Digest[:], at6.Digest) {
		t.Fatalf("StatusInfo = %+v", si)
	}
	// The same delta again is stale now.
	if err := src.ApplyStatusDelta(delta); !errors.Is(err, offline.ErrStaleVersion) {
		t.Fatalf("replayed delta = %v", err)
	}
}

func TestSyncSourceRules(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	src := s.SyncSource()
	if err := src.PutRules(2, []byte("signed"), testRules(2)); err != nil {
		t.Fatal(err)
	}
	if v, err := src.RulesVersion(); err != nil || v != 2 {
		t.Fatalf("RulesVersion = %d %v", v, err)
	}
	if err := src.PutRules(1, []byte("signed"), testRules(1)); !errors.Is(err, offline.ErrRulesStale) {
		t.Fatalf("old rules = %v", err)
	}
}
