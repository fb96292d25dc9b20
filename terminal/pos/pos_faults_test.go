package pos_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
)

// TestTornSaleLostAgainAfterRecovery: the retry of a torn sale finds it
// completed, and the card leaves at the next GET BALANCE. The recovery
// read the balance already: no further command is needed to show the sale
// paid; and a tap that did end early must leave the next one knowing the
// sale was paid. Either way the customer is not charged a second time.
func TestTornSaleLostAgainAfterRecovery(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	r.tornDebit(card, 0)
	// The second GET BALANCE from now is the one after the recovery.
	if err := card.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsGetBalance, Nth: 2}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Second)
	res := r.handle(card, 0)
	if res.Outcome == pos.TapAgain {
		r.clock.Advance(10 * time.Second)
		res = r.handle(card, 0)
	}
	if res.Outcome != pos.Paid || !res.Recovered || balance(card) != 8750 || res.Balance != 8750 {
		t.Fatalf("retry: %+v, balance %d, want the recovered sale and 87.50", res, balance(card))
	}
	if k := r.kinds(); k[protocol.KindPurchaseCompleted] != 1 {
		t.Fatalf("journal %v", k)
	}
}

// TestShowerTornFinalDebitLostAgain: the final debit of a shower is torn,
// the recovery tap finds it done and the card leaves at the next GET
// BALANCE. The session ends as paid (on that tap or the next), never
// debited again.
func TestShowerTornFinalDebitLostAgain(t *testing.T) {
	r := newRig(t, shower(1000))
	card := demoCard(t, "student", "", 0)
	r.startShower(card)
	r.clock.Advance(5 * time.Minute)
	r.tornDebit(card, 0)
	if err := card.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsGetBalance, Nth: 2}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Second)
	res := r.handle(card, 0)
	if res.Outcome == pos.TapAgain {
		r.clock.Advance(10 * time.Minute)
		res = r.handle(card, 0)
	}
	if res.Outcome != pos.Paid || !res.Recovered || res.Amount != 500 || balance(card) != 9500 {
		t.Fatalf("retry: %+v, balance %d", res, balance(card))
	}
	if len(r.pos.Sessions()) != 0 {
		t.Fatal("session not ended")
	}
}

// TestKeyedRecoveryThenEntryCancelled: in keyed mode the recovery of a
// torn sale runs before the cashier keys the amount; a cancelled entry on
// that tap must not make the retry a new charge.
func TestKeyedRecoveryThenEntryCancelled(t *testing.T) {
	r := newRig(t, config.POS{Mode: config.ModeKeyed})
	card := demoCard(t, "student", "", 0)
	r.tornDebit(card, 830)
	r.clock.Advance(10 * time.Second)
	r.ui.QueueCancel()
	if res := r.handle(card, 0); res.Outcome != pos.Refused || res.Code != pos.CodeEntryCancelled {
		t.Fatalf("entry cancelled: %+v", res)
	}
	r.clock.Advance(10 * time.Second)
	res := r.handle(card, 830)
	if res.Outcome != pos.Paid || !res.Recovered || balance(card) != 10000-830 {
		t.Fatalf("retry: %+v, balance %d", res, balance(card))
	}
}

// completeFailsOnce is the real store with CompleteIntent failing once, as
// a group commit that hit an I/O error.
type completeFailsOnce struct {
	*offline.Store
	failed bool
}

var errDisk = errors.New("disk: input/output error")

func (s *completeFailsOnce) CompleteIntent(id uint64, c offline.Completion) (uint64, error) {
	if !s.failed {
		s.failed = true
		return 0, errDisk
	}
	return s.Store.CompleteIntent(id, c)
}

// TestLostCompletionNotGivenAway: a sale was debited and shown paid, but
// its completion failed to commit (the intent stays open). The card's next
// sales of the same price must be charged (the recovery of the first one
// is not the customer's retry) and the first one must not count twice
// towards the daily limit.
func TestLostCompletionNotGivenAway(t *testing.T) {
	cfg := fixed(1250)
	cfg.DailyLimitFen = 3750
	r := newRig(t, cfg)
	r.pos = r.newPOS(&completeFailsOnce{Store: r.store})
	card := demoCard(t, "student", "", 0)
	res, err := r.pos.HandleCard(r.ctx, r.tap(card), 0)
	r.rdr.Remove()
	if !errors.Is(err, errDisk) || res.Outcome != pos.Paid || balance(card) != 8750 {
		t.Fatalf("first sale: %+v %v, balance %d", res, err, balance(card))
	}
	for i, want := range []int64{7500, 6250} {
		r.clock.Advance(time.Minute)
		res := r.handle(card, 0)
		if res.Outcome != pos.Paid || res.Recovered || balance(card) != want {
			t.Fatalf("sale %d: %+v, balance %d, want paid down to %d", i+2, res, balance(card), want)
		}
	}
	r.noIntents()
	if k := r.kinds(); k[protocol.KindPurchaseCompleted] != 3 {
		t.Fatalf("journal %v", k)
	}
}

// openFailsOnce is the real store with OpenIntent failing once.
type openFailsOnce struct {
	*offline.Store
	failed bool
}

func (s *openFailsOnce) OpenIntent(p offline.PurchaseIntent) (offline.Intent, error) {
	if !s.failed {
		s.failed = true
		return offline.Intent{}, errDisk
	}
	return s.Store.OpenIntent(p)
}

// TestShowerStoreFaultKeepsCharge: the store fails when a shower session
// stops; nothing was debited. The session must keep its charge for the
// card's next tap, not end unpaid.
func TestShowerStoreFaultKeepsCharge(t *testing.T) {
	r := newRig(t, shower(1000))
	r.pos = r.newPOS(&openFailsOnce{Store: r.store})
	card := demoCard(t, "student", "", 0)
	r.startShower(card)
	r.clock.Advance(5 * time.Minute)
	res, err := r.pos.HandleCard(r.ctx, r.tap(card), 0)
	r.rdr.Remove()
	if !errors.Is(err, errDisk) || res.Outcome != pos.Refused || balance(card) != 10000 {
		t.Fatalf("stop with the store failing: %+v %v", res, err)
	}
	if s := r.pos.Sessions(); len(s) != 1 || !s[0].Stopped || s[0].Charge != 500 {
		t.Fatalf("sessions %+v, want one stopped at 5.00", s)
	}
	r.clock.Advance(time.Minute)
	r.wantPaid(r.handle(card, 0), card, 500, 10000)
	if len(r.pos.Sessions()) != 0 {
		t.Fatal("session not ended")
	}
}

// TestShowerAfterRestartChargesNewSession: a shower's final debit is torn
// and the terminal restarts (the session is lost). The card's next tap
// completes the torn debit and starts a new session; that session, though
// it costs the same within the retry window, is charged: the torn debit
// is not its retry.
func TestShowerAfterRestartChargesNewSession(t *testing.T) {
	r := newRig(t, shower(1000))
	card := demoCard(t, "student", "", 0)
	r.startShower(card)
	r.clock.Advance(30 * time.Second)
	r.tornDebit(card, 0)
	r.reopen()
	r.clock.Advance(10 * time.Second)
	if res := r.handle(card, 0); res.Outcome != pos.SessionStarted || balance(card) != 9900 {
		t.Fatalf("tap after the restart: %+v, balance %d", res, balance(card))
	}
	r.clock.Advance(30 * time.Second)
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Recovered || res.Amount != 100 || balance(card) != 9800 {
		t.Fatalf("second session: %+v, balance %d", res, balance(card))
	}
}
