package kiosk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/kiosk"
)

// powerCut is the panic with which cuttingStore stops the kiosk in the
// middle of its flow, as a power cut stops the process.
type powerCut struct{}

// cuttingStore is the real store with the power cut before or after its
// commit number at (counted from 1 over the whole case; 0 never cuts).
type cuttingStore struct {
	*offline.Store
	at      int
	after   bool
	commits *int
}

func (s *cuttingStore) commit(fn func()) {
	*s.commits++
	if *s.commits == s.at && !s.after {
		panic(powerCut{})
	}
	fn()
	if *s.commits == s.at && s.after {
		panic(powerCut{})
	}
}

func (s *cuttingStore) BeginLoad(p offline.LoadIntent) (l offline.Load, err error) {
	s.commit(func() { l, err = s.Store.BeginLoad(p) })
	return l, err
}

func (s *cuttingStore) AuthorizeLoad(id uint64, loadID string, mac2 []byte) (l offline.Load, err error) {
	s.commit(func() { l, err = s.Store.AuthorizeLoad(id, loadID, mac2) })
	return l, err
}

func (s *cuttingStore) DropLoad(id uint64) (err error) {
	s.commit(func() { err = s.Store.DropLoad(id) })
	return err
}

func (s *cuttingStore) CompleteLoad(id uint64, c offline.LoadCompletion) (seq uint64, err error) {
	s.commit(func() { seq, err = s.Store.CompleteLoad(id, c) })
	return seq, err
}

func (s *cuttingStore) SettleLoad(id uint64) (err error) {
	s.commit(func() { err = s.Store.SettleLoad(id) })
	return err
}

func (s *cuttingStore) MarkLoadUncertain(id uint64, reason string) (err error) {
	s.commit(func() { err = s.Store.MarkLoadUncertain(id, reason) })
	return err
}

func (s *cuttingStore) VoidLoad(id uint64, reason string) (err error) {
	s.commit(func() { err = s.Store.VoidLoad(id, reason) })
	return err
}

// tearCase is one cell of the matrix: tears of the card at its n-th
// command (counted over every tap of the case), before or after the card
// executes it, and a power cut before or after the cut-th store commit.
type tearCase struct {
	tears    []sim.Fault
	cut      int
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

type tearStats struct {
	commits, apdus, cuts, taps int
	fired                      bool
}

type countingCard struct {
	reader.Card
	n *int
}

func (c countingCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	*c.n++
	return c.Card.Transmit(ctx, cmd)
}

const (
	tearStart  = 5000
	tearAmount = 3000
	maxTaps    = 5
)

// runTearCase claims one pending load onto a fresh card with the case's
// faults, then presents the card again to a fresh kiosk (the store
// reopened from its file: a restart) until the claim settles, and checks:
// the card's balance is the start plus the load, the ledger's load is done
// with the card's TAC and nothing waits, one load record is journaled, no
// intent is left, and the chain verifies.
func runTearCase(t *testing.T, c tearCase) tearStats {
	t.Helper()
	r := newRig(t)
	card := demoCard(t, "student", "", tearStart)
	r.addLoad(card, tearAmount)
	for _, f := range c.tears {
		if err := card.Arm(f); err != nil {
			t.Fatal(err)
		}
	}
	var st tearStats
	settled := false
	var res kiosk.Result
	for st.taps < maxTaps && !settled {
		st.taps++
		cs := &cuttingStore{Store: r.store, at: c.cut, after: c.cutAfter, commits: &st.commits}
		died := protect(func() {
			k := r.newKiosk(cs)
			var err error
			res, err = k.HandleCard(r.ctx, countingCard{r.tap(card), &st.apdus})
			if err != nil {
				t.Logf("tap %d: %v", st.taps, err)
			}
		})
		r.rdr.Remove()
		if died {
			st.cuts++
			c.cut = 0 // the power comes back for good
		}
		r.reopen()
		settled = !died && res.Outcome != kiosk.TapAgain
		r.clock.Advance(5 * time.Second)
	}
	if !settled {
		t.Fatalf("%v: not settled after %d taps (last %+v)", c, st.taps, res)
	}
	if res.Outcome != kiosk.Loaded && res.Outcome != kiosk.Nothing {
		t.Fatalf("%v: ended %+v", c, res)
	}
	if got := balance(card); got != tearStart+tearAmount {
		t.Fatalf("%v: card balance %d, want %d", c, got, tearStart+tearAmount)
	}
	if n := len(r.loadRecords()); n != 1 {
		t.Fatalf("%v: %d load records, want 1", c, n)
	}
	if ls := r.intents(); len(ls) != 0 {
		t.Fatalf("%v: intents left: %+v", c, ls)
	}
	id := r.loadRecordLoadID(res)
	r.checkDone(id, card.Profile().CardNumber())
	if _, err := r.store.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := r.store.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
	st.fired = len(card.Faults()) == 0
	return st
}

// loadRecordLoadID is the ledger's load the case settled: the result's,
// or (a tap that found nothing left) the one load the ledger has.
func (r *rig) loadRecordLoadID(res kiosk.Result) string {
	if res.LoadID != "" {
		return res.LoadID
	}
	return "1"
}

func protect(fn func()) (died bool) {
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

// TestLoadTearMatrix tears the card before and after every command of the
// claim and of the taps that recover it, cuts the power before and after
// every store commit of each of those runs, and checks after each case
// that the load reached the card and the ledger exactly once.
func TestLoadTearMatrix(t *testing.T) {
	clean := runTearCase(t, tearCase{})
	// SELECT, READ BINARY, GET BALANCE, INITIALIZE FOR PURCHASE (key
	// version), VERIFY (system PIN), INITIALIZE FOR LOAD, CREDIT FOR LOAD;
	// commits: the intent before the ledger is asked, its MAC2, the
	// completion, the settlement.
	if clean.taps != 1 || clean.commits != 4 || clean.apdus != 7 {
		t.Fatalf("clean claim: %+v, want one tap, four commits and seven commands", clean)
	}
	credit := clean.apdus
	tear := func(k sim.FaultKind, n int) sim.Fault { return sim.Fault{Kind: k, INS: sim.InsAny, Nth: n} }
	kinds := []sim.FaultKind{sim.TearBefore, sim.TearAfter}
	tears := []tearCase{{}}
	for n := 1; n <= clean.apdus; n++ {
		for _, k := range kinds {
			tears = append(tears, tearCase{tears: []sim.Fault{tear(k, n)}})
		}
	}
	for _, k1 := range kinds {
		first := tear(k1, credit)
		torn := runTearCase(t, tearCase{tears: []sim.Fault{first}})
		if torn.taps != 2 || torn.apdus <= credit {
			t.Fatalf("claim torn %s CREDIT: %+v, want a second tap", k1, torn)
		}
		for n := credit + 1; n <= torn.apdus; n++ {
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
					if st := runTearCase(t, c); st.cuts != 1 {
						t.Fatalf("%v: the power was cut %d times, want once", c, st.cuts)
					}
				})
				cases++
			}
		}
	}
	t.Logf("%d cases", cases)
}
