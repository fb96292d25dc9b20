package offline_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

var (
	mac2 = []byte{0xB1, 0xB2, 0xB3, 0xB4}
	tac  = []byte{0xC1, 0xC2, 0xC3, 0xC4}
)

func loadIntent(card string, amount int64) offline.LoadIntent {
	return offline.LoadIntent{
		CardNo: card, Amount: amount, BalanceBefore: 10_000, CardCounter: 3, TerminalID: tid,
		TxTime: txTime, CardSerial: serial, KeyIndex: 1, KeyVersion: 2, Algorithm: 4,
		LoadID: "17", MAC2: mac2,
	}
}

// loadRecords returns the journal's load records.
func loadRecords(t *testing.T, s *offline.Store) []protocol.Record {
	t.Helper()
	h, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.Records(0, int(h.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	var out []protocol.Record
	for _, e := range es {
		if e.Record.Kind == protocol.KindLoad {
			out = append(out, e.Record)
		}
	}
	return out
}

func oneLoad(t *testing.T, s *offline.Store) offline.Load {
	t.Helper()
	ls, err := s.Loads()
	if err != nil || len(ls) != 1 {
		t.Fatalf("Loads = %+v, %v; want one", ls, err)
	}
	return ls[0]
}

// TestLoadLifecycle: open → credited (one load record with every field
// the ledger checks the TAC with) → settled (gone); a second completion
// is refused and journals nothing; the intent survives a reopen in each
// state.
func TestLoadLifecycle(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	l, err := s.OpenLoad(loadIntent("2024000001", 3000))
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != 1 || l.State != offline.LoadOpen || l.Opened.IsZero() {
		t.Fatalf("opened %+v", l)
	}
	if n := len(loadRecords(t, s)); n != 0 {
		t.Fatalf("%d load records after the intent, want none", n)
	}
	s = reopenStore(t, s, path)
	if got := oneLoad(t, s); got.State != offline.LoadOpen || got.LoadID != "17" || !bytes.Equal(got.MAC2, mac2) || got.CardCounter != 3 {
		t.Fatalf("after reopen %+v", got)
	}
	if err := s.MarkLoadUncertain(l.ID, "card-removed"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkLoadUncertain(l.ID, "again"); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("uncertain twice: %v", err)
	}
	if err := s.SettleLoad(l.ID); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("settle an uncertain load: %v", err)
	}
	if _, err := s.CompleteLoad(l.ID, offline.LoadCompletion{BalanceAfter: 12_000, TAC: tac}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("completion with a wrong balance: %v", err)
	}
	seq, err := s.CompleteLoad(l.ID, offline.LoadCompletion{BalanceAfter: 13_000, TAC: tac})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteLoad(l.ID, offline.LoadCompletion{BalanceAfter: 13_000, TAC: tac}); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("second completion: %v", err)
	}
	s = reopenStore(t, s, path)
	got := oneLoad(t, s)
	if got.State != offline.LoadCredited || got.Seq != seq || got.BalanceAfter != 13_000 || !bytes.Equal(got.TAC, tac) {
		t.Fatalf("credited %+v", got)
	}
	rs := loadRecords(t, s)
	if len(rs) != 1 {
		t.Fatalf("%d load records, want 1", len(rs))
	}
	r := rs[0]
	if r.Seq != seq || r.CardNo != "2024000001" || r.Amount != 3000 || r.BalanceBefore != 10_000 || r.BalanceAfter != 13_000 ||
		r.CardCounter != 3 || !bytes.Equal(r.TerminalID, tid) || !bytes.Equal(r.TxTime, txTime) || !bytes.Equal(r.CardSerial, serial) ||
		r.KeyIndex != 1 || r.KeyVersion != 2 || r.Algorithm != 4 || !bytes.Equal(r.TAC, tac) || !bytes.Equal(r.MAC2, mac2) || r.Reason != "" {
		t.Fatalf("load record %+v", r)
	}
	if err := s.SettleLoad(l.ID); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Loads(); len(ls) != 0 {
		t.Fatalf("left after settle: %+v", ls)
	}
	if err := s.SettleLoad(l.ID); !errors.Is(err, offline.ErrNotFound) {
		t.Fatalf("settle twice: %v", err)
	}
	if n := len(loadRecords(t, s)); n != 1 {
		t.Fatalf("%d load records at the end, want 1", n)
	}
}

func reopenStore(t *testing.T, s *offline.Store, path string) *offline.Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { offlinetest.CheckAndClose(t, s2) })
	return s2
}

// TestLoadByLogAndVoid: a credit proven by the card's log journals a load
// record without TAC (reason card-log) and leaves nothing to confirm; a
// voided load journals nothing, stays listed, and is dropped by the card's
// next load; a card with a load in flight gets no second one.
func TestLoadByLogAndVoid(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	a, err := s.OpenLoad(loadIntent("c1", 500))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenLoad(loadIntent("c1", 700)); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("second load of a card in flight: %v", err)
	}
	if _, err := s.CompleteLoad(a.ID, offline.LoadCompletion{BalanceAfter: 10_500, TAC: tac, ByLog: true}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("by log with a TAC: %v", err)
	}
	if _, err := s.CompleteLoad(a.ID, offline.LoadCompletion{BalanceAfter: 10_500, ByLog: true}); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Loads(); len(ls) != 0 {
		t.Fatalf("left after a completion by log: %+v", ls)
	}
	rs := loadRecords(t, s)
	if len(rs) != 1 || rs[0].TAC != nil || rs[0].Reason != offline.ReasonCardLog || rs[0].BalanceAfter != 10_500 {
		t.Fatalf("load records %+v", rs)
	}

	b, err := s.OpenLoad(loadIntent("c2", 800))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.OpenLoad(loadIntent("c3", 900))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VoidLoad(b.ID, "counter-unchanged"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteLoad(b.ID, offline.LoadCompletion{BalanceAfter: 10_800, TAC: tac}); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("complete a voided load: %v", err)
	}
	ls, err := s.Loads()
	if err != nil || len(ls) != 2 || ls[0].ID != b.ID || ls[0].State != offline.LoadVoided || ls[0].Reason != "counter-unchanged" {
		t.Fatalf("after void: %+v, %v", ls, err)
	}
	if n := len(loadRecords(t, s)); n != 1 {
		t.Fatalf("a void journaled a load record (%d)", n)
	}
	again, err := s.OpenLoad(loadIntent("c2", 800))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ = s.Loads()
	if len(ls) != 2 || ls[0].ID != other.ID || ls[1].ID != again.ID || ls[1].State != offline.LoadOpen {
		t.Fatalf("the card's next load did not drop its voided one: %+v", ls)
	}
}

// TestLoadByLedger: a load the ledger says this session credited (the
// card showed a later counter elsewhere) journals a load record without
// TAC, reason ledger-inferred, and leaves nothing; a TAC with it, or both
// ways at once, is refused.
func TestLoadByLedger(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	a, err := s.OpenLoad(loadIntent("c1", 500))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkLoadUncertain(a.ID, "restart"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []offline.LoadCompletion{
		{BalanceAfter: 10_500, TAC: tac, ByLedger: true},
		{BalanceAfter: 10_500, ByLedger: true, ByLog: true},
	} {
		if _, err := s.CompleteLoad(a.ID, bad); !errors.Is(err, offline.ErrInvalid) {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if _, err := s.CompleteLoad(a.ID, offline.LoadCompletion{BalanceAfter: 10_500, ByLedger: true}); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Loads(); len(ls) != 0 {
		t.Fatalf("left after a completion by the ledger: %+v", ls)
	}
	rs := loadRecords(t, s)
	if len(rs) != 1 || rs[0].TAC != nil || rs[0].Reason != offline.ReasonLedger || rs[0].BalanceAfter != 10_500 {
		t.Fatalf("load records %+v", rs)
	}
}

// TestLoadRefusesIncomplete: an intent without what recovery or the
// ledger needs is refused before anything is written.
func TestLoadRefusesIncomplete(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	for name, f := range map[string]func(*offline.LoadIntent){
		"no card":      func(p *offline.LoadIntent) { p.CardNo = "" },
		"zero amount":  func(p *offline.LoadIntent) { p.Amount = 0 },
		"huge amount":  func(p *offline.LoadIntent) { p.Amount = 1 << 32 },
		"counter":      func(p *offline.LoadIntent) { p.CardCounter = 1 << 16 },
		"terminal id":  func(p *offline.LoadIntent) { p.TerminalID = p.TerminalID[:5] },
		"tx time":      func(p *offline.LoadIntent) { p.TxTime = nil },
		"card serial":  func(p *offline.LoadIntent) { p.CardSerial = []byte{1} },
		"mac2":         func(p *offline.LoadIntent) { p.MAC2 = nil },
		"load id":      func(p *offline.LoadIntent) { p.LoadID = "" },
		"long load id": func(p *offline.LoadIntent) { p.LoadID = string(make([]byte, 65)) },
	} {
		p := loadIntent("c1", 100)
		f(&p)
		if _, err := s.OpenLoad(p); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if ls, err := s.Loads(); err != nil || len(ls) != 0 {
		t.Fatalf("refused intents stored: %+v, %v", ls, err)
	}
}

// TestLoadStorageFull: no new load once new work no longer fits; a load
// in flight still completes (its record is evidence, inside the reserve).
func TestLoadStorageFull(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{MaxUnacked: 20, Reserve: 5})
	l, err := s.OpenLoad(loadIntent("c0", 100))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		in, err := s.OpenIntent(purchase(fmt.Sprintf("p%d", i), 1))
		if errors.Is(err, offline.ErrStorageFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteIntent(in.ID, done); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.OpenLoad(loadIntent("c1", 100)); !errors.Is(err, offline.ErrStorageFull) {
		t.Fatalf("open load in a full store: %v", err)
	}
	if _, err := s.CompleteLoad(l.ID, offline.LoadCompletion{BalanceAfter: 10_100, TAC: tac}); err != nil {
		t.Fatalf("complete a load in flight in a full store: %v", err)
	}
}

// TestLoadBeginAuthorize: an intent begun before the ledger is asked is
// asking (no load id, no MAC2) across a reopen; the ledger's answer opens
// it; an asking load may be dropped (the ledger refused), an open one not;
// the card's next load drops an asking one left behind.
func TestLoadBeginAuthorize(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	p := loadIntent("c1", 300)
	if _, err := s.BeginLoad(p); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("begin with the ledger's answer: %v", err)
	}
	p.LoadID, p.MAC2 = "", nil
	a, err := s.BeginLoad(p)
	if err != nil {
		t.Fatal(err)
	}
	s = reopenStore(t, s, path)
	if got := oneLoad(t, s); got.State != offline.LoadAsking || got.LoadID != "" || got.MAC2 != nil {
		t.Fatalf("asking after reopen: %+v", got)
	}
	if _, err := s.AuthorizeLoad(a.ID, "", mac2); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("authorize without a load id: %v", err)
	}
	l, err := s.AuthorizeLoad(a.ID, "9", mac2)
	if err != nil || l.State != offline.LoadOpen || l.LoadID != "9" {
		t.Fatalf("authorize: %+v, %v", l, err)
	}
	if err := s.DropLoad(a.ID); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("drop an open load: %v", err)
	}
	if _, err := s.AuthorizeLoad(a.ID, "9", mac2); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("authorize twice: %v", err)
	}
	if err := s.VoidLoad(a.ID, "counter-unchanged"); err != nil {
		t.Fatal(err)
	}
	b, err := s.BeginLoad(p) // drops the voided one
	if err != nil {
		t.Fatal(err)
	}
	if got := oneLoad(t, s); got.ID != b.ID {
		t.Fatalf("left: %+v", got)
	}
	c, err := s.BeginLoad(p) // drops the asking one
	if err != nil {
		t.Fatal(err)
	}
	if got := oneLoad(t, s); got.ID != c.ID {
		t.Fatalf("left: %+v", got)
	}
	if err := s.DropLoad(c.ID); err != nil {
		t.Fatal(err)
	}
	if ls, _ := s.Loads(); len(ls) != 0 || len(loadRecords(t, s)) != 0 {
		t.Fatalf("left %+v", ls)
	}
}
