package pos_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/pos"
)

// powerCut is the panic with which cuttingStore stops the POS in the
// middle of its flow, as a power cut stops the process: nothing after it
// runs, nothing is closed gracefully.
type powerCut struct{}

// cuttingStore is the real store with the power cut before or after its
// commit number at (counted from 1 over the POS objects that share it; 0
// never cuts). Every method that commits counts.
type cuttingStore struct {
	*offline.Store
	at      int
	after   bool
	commits *int
	cut     *bool
}

func (s *cuttingStore) commit(fn func() error) {
	*s.commits++
	if *s.commits == s.at && !s.after {
		*s.cut = true
		panic(powerCut{})
	}
	err := fn()
	if *s.commits == s.at && s.after {
		*s.cut = true
		panic(powerCut{})
	}
	_ = err // returned through the closure's captures
}

func (s *cuttingStore) OpenIntent(p offline.PurchaseIntent) (in offline.Intent, err error) {
	s.commit(func() error { in, err = s.Store.OpenIntent(p); return err })
	return in, err
}

func (s *cuttingStore) CompleteIntent(id uint64, c offline.Completion) (seq uint64, err error) {
	s.commit(func() error { seq, err = s.Store.CompleteIntent(id, c); return err })
	return seq, err
}

func (s *cuttingStore) VoidIntent(id uint64, reason string) (seq uint64, err error) {
	s.commit(func() error { seq, err = s.Store.VoidIntent(id, reason); return err })
	return seq, err
}

func (s *cuttingStore) MarkUncertain(id uint64, reason string) (seq uint64, err error) {
	s.commit(func() error { seq, err = s.Store.MarkUncertain(id, reason); return err })
	return seq, err
}

func (s *cuttingStore) Append(r protocol.Record) (seq uint64, err error) {
	s.commit(func() error { seq, err = s.Store.Append(r); return err })
	return seq, err
}

// tearCase is one cell of the matrix: a tear of the card at its tear-th
// command (counted over every tap of the case: the sale and the recovery
// taps), before or after the card executes it, and a power cut before or
// after the cut-th commit of the store.
type tearCase struct {
	tears    []sim.Fault // on any command, Nth counted over the whole case
	cut      int         // 0: no cut
	cutAfter bool
}

func (c tearCase) String() string {
	s := "clean"
	for i, f := range c.tears {
		if i == 0 {
			s = ""
		} else {
			s += "+"
		}
		s += fmt.Sprintf("%s-apdu%d", f.Kind, f.Nth)
	}
	if c.cut > 0 {
		w := "before"
		if c.cutAfter {
			w = "after"
		}
		s += fmt.Sprintf("/cut-%s-commit%d", w, c.cut)
	}
	return s
}

// tearStats is what a run of a case saw.
type tearStats struct {
	commits int // store commits over the whole case
	apdus   int // commands the card was sent over the whole case
	cuts    int
	taps    int
	fired   bool // every armed tear fired
}

// countingCard counts the commands sent to a card.
type countingCard struct {
	reader.Card
	n *int
}

func (c countingCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	*c.n++
	return c.Card.Transmit(ctx, cmd)
}

const (
	tearPrice   = 1250
	tearBalance = 10000
	maxTaps     = 5
)

// runTearCase sells a fixed-price meal to a fresh card with the case's
// faults, then taps the card again on a fresh POS (the store reopened from
// its file) until the sale settles, and checks the invariants: the card's
// balance plus the journal's completed amounts equal the starting balance,
// one completed record per DEBIT the card executed, exactly one sale
// completed (a torn sale that completed is not charged again, a voided one
// is paid), no intent left open or uncertain, and the journal verifies.
func runTearCase(t *testing.T, c tearCase) tearStats {
	t.Helper()
	r := newRig(t, fixed(tearPrice))
	card := demoCard(t, "student", "", tearBalance)
	startCounter := card.Status().OfflineCounter
	for _, f := range c.tears {
		if err := card.Arm(f); err != nil {
			t.Fatal(err)
		}
	}
	var st tearStats
	cut := false
	settled := false
	for st.taps < maxTaps && !settled {
		st.taps++
		cs := &cuttingStore{Store: r.store, at: c.cut, after: c.cutAfter, commits: &st.commits, cut: &cut}
		var res pos.Result
		died := protect(t, func() {
			p, err := pos.New(pos.Options{
				Store: cs, SAM: r.sam, Display: r.ui, Keypad: r.ui, Now: r.clock.Now, Location: time.UTC,
				Config: r.cfg, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Startup(); err != nil {
				t.Fatalf("startup: %v", err)
			}
			res, err = p.HandleCard(r.ctx, countingCard{r.tap(card), &st.apdus}, 0)
			if err != nil {
				t.Logf("tap %d: %v", st.taps, err)
			}
		})
		r.rdr.Remove()
		if died {
			st.cuts++
			cut = false
			c.cut = 0 // the power comes back for good
		}
		// Whatever happened, the next tap is on a fresh POS with the store
		// reopened from its file.
		r.reopen()
		settled = !died && res.Outcome != pos.TapAgain
		// A customer told to tap again does so past the repeat guard (3 s),
		// which would otherwise refuse the tap and hide a second charge.
		// After a power cut only a second passes: a sale completed just
		// before the cut, whose result was never shown, is protected from
		// a second charge by the repeat guard only (see the review notes).
		if died {
			r.clock.Advance(time.Second)
		} else {
			r.clock.Advance(5 * time.Second)
		}
	}
	if !settled {
		t.Fatalf("%v: not settled after %d taps", c, st.taps)
	}
	checkTearInvariants(t, r, card, startCounter)
	st.fired = len(card.Faults()) == 0
	return st
}

// protect runs fn and reports whether the power was cut in it.
func protect(t *testing.T, fn func()) (died bool) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(powerCut); !ok {
				panic(v)
			}
			died = true
		}
	}()
	fn()
	return false
}

func checkTearInvariants(t *testing.T, r *rig, card *sim.Card, startCounter uint16) {
	t.Helper()
	var completed, amounts int64
	resolved := map[uint64]protocol.Kind{}
	for _, rec := range r.records() {
		switch rec.Kind {
		case protocol.KindPurchaseCompleted, protocol.KindPurchaseVoided:
			if k, dup := resolved[rec.IntentID]; dup {
				t.Fatalf("intent %d resolved twice (%v, %v)", rec.IntentID, k, rec.Kind)
			}
			resolved[rec.IntentID] = rec.Kind
			if rec.Kind == protocol.KindPurchaseCompleted {
				completed++
				amounts += rec.Amount
			}
		}
	}
	st := card.Status()
	if got := int64(st.Balance) + amounts; got != tearBalance {
		t.Fatalf("balance %d + completed %d = %d, want %d", st.Balance, amounts, got, tearBalance)
	}
	if debits := int64(st.OfflineCounter - startCounter); debits != completed {
		t.Fatalf("card executed %d debits, journal completed %d", debits, completed)
	}
	if completed != 1 {
		t.Fatalf("%d sales completed, want exactly 1 (balance %d)", completed, st.Balance)
	}
	r.noIntents()
	if _, err := r.store.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := r.store.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}

// TestTearMatrix tears the card at every command of the sale and of the
// recovery taps (before and after the card executes it), cuts the power
// before and after every store commit of each of those runs, and checks
// after each case that the sale settled exactly once (runTearCase).
func TestTearMatrix(t *testing.T) {
	// The clean run and a run torn after DEBIT (sale + recovery) bound how
	// many commands a case sends.
	clean := runTearCase(t, tearCase{})
	if clean.taps != 1 || clean.commits != 2 || clean.apdus != 6 {
		t.Fatalf("clean sale: %+v, want one tap, two commits (intent, completion) and six commands (SELECT, READ BINARY 15, GET BALANCE, READ BINARY 12, INITIALIZE, DEBIT)", clean)
	}
	debit := clean.apdus // DEBIT FOR PURCHASE is the sale's last command
	tear := func(k sim.FaultKind, n int) sim.Fault { return sim.Fault{Kind: k, INS: sim.InsAny, Nth: n} }
	kinds := []sim.FaultKind{sim.TearBefore, sim.TearAfter}
	tears := []tearCase{{}}
	for n := 1; n <= clean.apdus; n++ {
		for _, k := range kinds {
			tears = append(tears, tearCase{tears: []sim.Fault{tear(k, n)}})
		}
	}
	// A sale torn at DEBIT, then torn again at every command of the taps
	// that recover it.
	for _, k1 := range kinds {
		first := tear(k1, debit)
		torn := runTearCase(t, tearCase{tears: []sim.Fault{first}})
		if torn.taps != 2 || torn.apdus <= debit {
			t.Fatalf("sale torn %s DEBIT: %+v, want a second tap", k1, torn)
		}
		for n := debit + 1; n <= torn.apdus; n++ {
			for _, k := range kinds {
				tears = append(tears, tearCase{tears: []sim.Fault{first, tear(k, n)}})
			}
		}
	}
	cases := 0
	for _, tc := range tears {
		var base tearStats
		t.Run(tc.String(), func(t *testing.T) {
			base = runTearCase(t, tc)
			if !base.fired {
				t.Fatalf("%v: an armed tear never fired", tc)
			}
		})
		cases++
		for k := 1; k <= base.commits; k++ {
			for _, after := range []bool{false, true} {
				c := tc
				c.cut, c.cutAfter = k, after
				t.Run(c.String(), func(t *testing.T) {
					st := runTearCase(t, c)
					if st.cuts != 1 {
						t.Fatalf("%v: the power was cut %d times, want once", c, st.cuts)
					}
				})
				cases++
			}
		}
	}
	t.Logf("%d cases", cases)
}

// TestStartupMarksOpenIntentsUncertain: a terminal that died between the
// intent and DEBIT leaves the intent open; the next start marks it
// uncertain (the card may or may not have been debited) and the card's
// next tap resolves it.
func TestStartupMarksOpenIntentsUncertain(t *testing.T) {
	r := newRig(t, fixed(tearPrice))
	card := demoCard(t, "student", "", tearBalance)
	commits, cut := 0, false
	cs := &cuttingStore{Store: r.store, at: 1, after: true, commits: &commits, cut: &cut}
	p, err := pos.New(pos.Options{Store: cs, SAM: r.sam, Display: r.ui, Now: r.clock.Now, Location: time.UTC, Config: r.cfg})
	if err != nil {
		t.Fatal(err)
	}
	if !protect(t, func() { _, _ = p.HandleCard(r.ctx, r.tap(card), 0) }) {
		t.Fatal("the power was not cut")
	}
	r.rdr.Remove()
	r.reopen() // Startup runs here
	ins, err := r.store.Intents()
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].State != offline.IntentUncertain {
		t.Fatalf("intents after restart: %+v", ins)
	}
	var reason string
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindPurchaseUncertain {
			reason = rec.Reason
		}
	}
	if reason != "restart" {
		t.Fatalf("uncertain record reason %q", reason)
	}
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Recovered || balance(card) != tearBalance-tearPrice {
		t.Fatalf("after restart: %+v, balance %d", res, balance(card))
	}
	checkTearInvariants(t, r, card, 0)
}
