package pos_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/pos"
)

// payAtB has the card pay amount at another terminal (POS B: its own
// PSAM, terminal id ...B2), through the rig's reader.
func (r *rig) payAtB(card *sim.Card, amount uint32) {
	r.t.Helper()
	kb := sam.TestKeys()
	kb.TerminalID = [6]byte{0, 0, 0, 0, 0, 0xB2}
	b, err := sam.NewSoftware(kb)
	if err != nil {
		r.t.Fatal(err)
	}
	c := r.tap(card)
	defer r.rdr.Remove()
	if _, err := epurse.Select(r.ctx, c, epurse.AIDKingstar); err != nil {
		r.t.Fatal(err)
	}
	pub, err := epurse.ReadPublicData(r.ctx, c)
	if err != nil {
		r.t.Fatal(err)
	}
	out := epurse.Pay(r.ctx, c, b, epurse.PurchaseRequest{Amount: amount, Time: epurse.NewDateTime(r.clock.Now()), CardSerial: pub.Factor()}, nil)
	if out.Kind != epurse.Done {
		r.t.Fatalf("sale at POS B: %v %v", out.Kind, out.Err)
	}
}

// TestTornHereThenPaidElsewhere is the strict card's point (the card keeps
// the proof of its last transaction only): a sale torn at this POS whose
// card then pays at POS B is settled here, when the card comes back, from
// the card's cyclic log — completed (without a TAC: the card has none any
// more; the log record is the evidence), never charged again, never lost.
func TestTornHereThenPaidElsewhere(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	r.tornDebit(card, 0)
	if balance(card) != 10000-1250 {
		t.Fatalf("the torn debit did not happen on the card: balance %d", balance(card))
	}
	r.clock.Advance(time.Minute)
	r.payAtB(card, 300)
	r.clock.Advance(time.Minute)

	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || !res.Recovered || res.Amount != 1250 {
		t.Fatalf("back at this POS: %+v, want the torn sale shown paid (recovered), not charged again", res)
	}
	if balance(card) != 10000-1250-300 {
		t.Fatalf("balance %d: charged again or lost", balance(card))
	}
	r.noIntents()
	var completed []protocol.Record
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindPurchaseCompleted {
			completed = append(completed, rec)
		}
	}
	if len(completed) != 1 || completed[0].Amount != 1250 || completed[0].TAC != nil || completed[0].Reason != "card-log" {
		t.Fatalf("completions %+v, want one of 12.50 proven by the card's log (no TAC, reason card-log)", completed)
	}
}

// TestVoidedByAnotherTerminal: a sale torn before the card executed DEBIT,
// whose card then paid at POS B, is voided from the log (B's purchase took
// the counter), and the customer is charged once for the new sale.
func TestVoidedByAnotherTerminal(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	if err := card.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	if res := r.handle(card, 0); res.Outcome != pos.TapAgain {
		t.Fatalf("torn before DEBIT: %+v", res)
	}
	r.clock.Advance(time.Minute)
	r.payAtB(card, 300)
	r.clock.Advance(time.Minute)
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Recovered || res.Balance != 10000-300-1250 || balance(card) != 10000-300-1250 {
		t.Fatalf("back at this POS: %+v (card %d), want a new sale of 12.50 on the card's real balance", res, balance(card))
	}
	r.noIntents()
	if k := r.kinds(); k[protocol.KindPurchaseVoided] != 1 || k[protocol.KindPurchaseCompleted] != 1 {
		t.Fatalf("journal %v", k)
	}
}
