package pos_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
)

// loadCuttingStore is cuttingStore with the load intents' commits
// counted (and cut) too.
type loadCuttingStore struct{ *cuttingStore }

func (s loadCuttingStore) BeginLoad(p offline.LoadIntent) (l offline.Load, err error) {
	s.commit(func() error { l, err = s.Store.BeginLoad(p); return err })
	return l, err
}

func (s loadCuttingStore) AuthorizeLoad(id uint64, loadID string, mac2 []byte) (l offline.Load, err error) {
	s.commit(func() error { l, err = s.Store.AuthorizeLoad(id, loadID, mac2); return err })
	return l, err
}

func (s loadCuttingStore) DropLoad(id uint64) (err error) {
	s.commit(func() error { err = s.Store.DropLoad(id); return err })
	return err
}

func (s loadCuttingStore) CompleteLoad(id uint64, c offline.LoadCompletion) (seq uint64, err error) {
	s.commit(func() error { seq, err = s.Store.CompleteLoad(id, c); return err })
	return seq, err
}

func (s loadCuttingStore) SettleLoad(id uint64) (err error) {
	s.commit(func() error { err = s.Store.SettleLoad(id); return err })
	return err
}

func (s loadCuttingStore) MarkLoadUncertain(id uint64, reason string) (err error) {
	s.commit(func() error { err = s.Store.MarkLoadUncertain(id, reason); return err })
	return err
}

func (s loadCuttingStore) VoidLoad(id uint64, reason string) (err error) {
	s.commit(func() error { err = s.Store.VoidLoad(id, reason); return err })
	return err
}

// runClaimTearCase taps a fresh demo student card (50.00 waiting in its
// account) at an online POS selling at tearPrice with the case's faults,
// then again on a fresh POS (the store reopened from its file) until a tap
// ends, and checks: the ledger holds exactly one load, done, for the
// 50.00, none authorised, nothing left in the account for loading; the
// journal holds one load record; card + account = start - the journal's
// completed sales; no purchase or load intent is left and the chain
// verifies.
func runClaimTearCase(t *testing.T, c tearCase) (tearStats, []byte) {
	t.Helper()
	cfg := fixed(tearPrice)
	// The ledger is always up here: a claim must never give up for a
	// ledger slowed by a loaded machine (the race detector, parallel
	// packages), which would leave the load authorised and the case
	// measuring the timeout, not the tear.
	cfg.ClaimTimeout = config.Duration(10 * time.Second)
	r := newClaimRig(t, cfg)
	card := demoCard(t, "student", "", tearBalance)
	start := balance(card) + r.account(card).Balance
	for _, f := range c.tears {
		if err := card.Arm(f); err != nil {
			t.Fatal(err)
		}
	}
	var st tearStats
	var ins []byte
	cut, settled := false, false
	var res pos.Result
	for st.taps < maxTaps && !settled {
		st.taps++
		cs := loadCuttingStore{&cuttingStore{Store: r.store, at: c.cut, after: c.cutAfter, commits: &st.commits, cut: &cut}}
		died := protect(t, func() {
			p, err := pos.New(pos.Options{Store: cs, SAM: r.sam, Display: r.ui, Keypad: r.ui, Now: r.clock.Now, Location: time.UTC,
				Config: r.cfg, Logger: slog.New(slog.DiscardHandler), Ledger: r.cli})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Startup(); err != nil {
				t.Fatalf("startup: %v", err)
			}
			res, err = p.HandleCard(r.ctx, insCard{countingCard{r.tap(card), &st.apdus}, &ins}, 0)
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
		r.reopen()
		settled = !died && res.Outcome != pos.TapAgain
		r.clock.Advance(5 * time.Second) // past the repeat guard
	}
	if !settled {
		t.Fatalf("%v: not settled after %d taps (last %+v)", c, st.taps, res)
	}
	if res.Outcome != pos.Paid {
		t.Fatalf("%v: the last tap %+v, want paid", c, res)
	}
	ls := r.loadsOf(card)
	if len(ls[ledger.LoadDone]) != 1 || ls[ledger.LoadDone][0].Amount != demoTopUp || len(ls[ledger.LoadAuthorised]) != 0 {
		t.Fatalf("%v: loads at the ledger %+v", c, ls)
	}
	a := r.account(card)
	if a.Loadable != 0 || a.Authorised != 0 {
		t.Fatalf("%v: account %+v", c, a)
	}
	if n := len(r.loadRecords()); n != 1 {
		t.Fatalf("%v: %d load records", c, n)
	}
	var sold int64
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindPurchaseCompleted {
			sold += rec.Amount
		}
	}
	if sold < tearPrice || balance(card)+a.Balance != start-sold {
		t.Fatalf("%v: card %d + account %d != start %d - sold %d", c, balance(card), a.Balance, start, sold)
	}
	r.noIntents()
	r.noLoadIntents()
	if _, err := r.store.Verify(); err != nil {
		t.Fatal(err)
	}
	st.fired = len(card.Faults()) == 0
	return st, ins
}

// insCard records the instruction byte of each command sent to a card.
type insCard struct {
	countingCard
	ins *[]byte
}

func (c insCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) > 1 {
		*c.ins = append(*c.ins, cmd[1])
	}
	return c.countingCard.Transmit(ctx, cmd)
}

// TestClaimTearMatrix tears the card before and after every command of a
// tap that claims and then sells at the POS (and, for a load torn at
// CREDIT FOR LOAD, every command of the tap that recovers it at the same
// POS), cuts the power before and after every store commit of each of
// those runs, and checks after each case that the load reached the card
// and the ledger exactly once and no money was lost or made.
func TestClaimTearMatrix(t *testing.T) {
	clean, ins := runClaimTearCase(t, tearCase{})
	credit := slices.Index(ins, sim.InsCreditForLoad) + 1 // CREDIT FOR LOAD's number among the commands
	if clean.taps != 1 || credit == 0 || clean.commits < 6 {
		t.Fatalf("clean tap: %+v, commands % x, want one tap with CREDIT FOR LOAD and six commits or more", clean, ins)
	}
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
		torn, _ := runClaimTearCase(t, tearCase{tears: []sim.Fault{first}})
		if torn.taps != 2 || torn.apdus <= credit {
			t.Fatalf("torn %s CREDIT: %+v, want a second tap", k1, torn)
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
			base, _ = runClaimTearCase(t, tc)
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
					if st, _ := runClaimTearCase(t, c); st.cuts != 1 {
						t.Fatalf("%v: the power was cut %d times, want once", c, st.cuts)
					}
				})
				cases++
			}
		}
	}
	t.Logf("%d cases", cases)
}
