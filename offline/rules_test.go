package offline_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

func testRules(v uint64) protocol.Rules {
	return protocol.Rules{
		Version: v, Issued: 1725177600000, PINLimitFen: 5000,
		Prices:      map[string]int64{"canteen-1-set-meal": 1200, "shower-per-minute": 20},
		Meals:       []protocol.MealPeriod{{Name: "lunch", Start: 660, End: 810, MaxUses: 2}},
		Credentials: map[string][]string{"north-gate": {"card", "qr"}},
		QRIssuers:   []protocol.IssuerKey{{KeyID: "qr-1", Alg: -8, Key: bytes.Repeat([]byte{7}, 32)}},
	}
}

func TestPutRules(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	r, v, err := s.Rules()
	if err != nil || v != 0 || r.Version != 0 {
		t.Fatalf("Rules on a new store = %+v, %d, %v", r, v, err)
	}
	want := testRules(3)
	signed := []byte("signed-rules-3")
	if err := s.PutRules(3, signed, want); err != nil {
		t.Fatal(err)
	}
	got, v, err := s.Rules()
	if err != nil || v != 3 || got.Prices["canteen-1-set-meal"] != 1200 || got.QRIssuers[0].KeyID != "qr-1" || got.Meals[0].MaxUses != 2 {
		t.Fatalf("Rules = %+v, %d, %v", got, v, err)
	}
	raw, v, err := s.RulesSigned()
	if err != nil || v != 3 || !bytes.Equal(raw, signed) {
		t.Fatalf("RulesSigned = %q, %d, %v", raw, v, err)
	}
	d, err := offline.RulesDigest(want)
	if err != nil {
		t.Fatal(err)
	}
	if v, gd, err := s.RulesVersion(); err != nil || v != 3 || gd != d {
		t.Fatalf("RulesVersion = %d %x %v, want 3 %x", v, gd, err, d)
	}
	// The apply is journalled in the same commit.
	h, _ := s.Head()
	es, err := s.Records(h.Seq-1, 1)
	if err != nil || len(es) != 1 {
		t.Fatal(es, err)
	}
	rec := es[0].Record
	if rec.Kind != protocol.KindConfigApplied || rec.Reason != "rules" || rec.Version != 3 || !bytes.Equal(rec.Digest, d[:]) {
		t.Fatalf("journal record = %+v", rec)
	}

	// Stale and equal versions are refused; nothing is applied or journalled.
	for _, v := range []uint64{3, 2} {
		if err := s.PutRules(v, []byte("old"), testRules(v)); !errors.Is(err, offline.ErrRulesStale) {
			t.Fatalf("PutRules(%d) = %v, want ErrRulesStale", v, err)
		}
	}
	if h2, _ := s.Head(); h2.Seq != h.Seq {
		t.Fatalf("refused rules journalled: head %d → %d", h.Seq, h2.Seq)
	}
	// Bad arguments.
	for name, fn := range map[string]func() error{
		"version mismatch": func() error { return s.PutRules(5, signed, testRules(4)) },
		"version 0":        func() error { return s.PutRules(0, signed, testRules(0)) },
		"no signed":        func() error { return s.PutRules(5, nil, testRules(5)) },
	} {
		if err := fn(); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := s.PutRules(4, []byte("signed-4"), testRules(4)); err != nil {
		t.Fatal(err)
	}
	// Survives a reopen.
	offlinetest.CheckAndClose(t, s)
	s2, err := offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s2)
	if got, v, err := s2.Rules(); err != nil || v != 4 || got.Version != 4 {
		t.Fatalf("Rules after reopen = %d %v", v, err)
	}
}
