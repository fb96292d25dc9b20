package terminal_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
)

// TestTornSaleLostAgainAfterRecovery: the retry of a torn sale finds it
// completed, and the card leaves at the next GET BALANCE. The recovery
// read the balance already: no further command is needed to show the sale
// paid; and a tap that did end early must leave the next one knowing the
// sale was paid. Either way the customer is not charged a second time.
func TestTornSaleLostAgainAfterRecovery(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	if res := r.handle(card, 0); res.Outcome != terminal.TapAgain {
		t.Fatalf("torn: %+v", res)
	}
	// The second GET BALANCE from now is the one after the recovery.
	if err := card.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsGetBalance, Nth: 2}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Second)
	res := r.handle(card, 0)
	if res.Outcome == terminal.TapAgain {
		r.clock.Advance(10 * time.Second)
		res = r.handle(card, 0)
	}
	if res.Outcome != terminal.Paid || !res.Recovered || balance(card) != 8750 || res.Balance != 8750 {
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
	if res := r.handle(card, 0); res.Outcome != terminal.SessionStarted {
		t.Fatalf("start: %+v", res)
	}
	r.clock.Advance(5 * time.Minute)
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	if res := r.handle(card, 0); res.Outcome != terminal.TapAgain {
		t.Fatalf("torn stop: %+v", res)
	}
	if err := card.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsGetBalance, Nth: 2}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Second)
	res := r.handle(card, 0)
	if res.Outcome == terminal.TapAgain {
		r.clock.Advance(10 * time.Minute)
		res = r.handle(card, 0)
	}
	if res.Outcome != terminal.Paid || !res.Recovered || res.Amount != 500 || balance(card) != 9500 {
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
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	if res := r.handle(card, 830); res.Outcome != terminal.TapAgain {
		t.Fatalf("torn: %+v", res)
	}
	r.clock.Advance(10 * time.Second)
	r.ui.QueueCancel()
	if res := r.handle(card, 0); res.Outcome != terminal.Refused || res.Code != terminal.CodeEntryCancelled {
		t.Fatalf("entry cancelled: %+v", res)
	}
	r.clock.Advance(10 * time.Second)
	res := r.handle(card, 830)
	if res.Outcome != terminal.Paid || !res.Recovered || balance(card) != 10000-830 {
		t.Fatalf("retry: %+v, balance %d", res, balance(card))
	}
}
