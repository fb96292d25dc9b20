package drivertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// Purchase runs the e-purse purchase of reader/epurse with a software SAM
// against the demo student sim card through a reader driver, then a
// purchase torn right after DEBIT, resolved by epurse.Recover (GET
// TRANSACTION PROVE) after the card is tapped again.
//
// present puts the card in the reader's field and returns the handle of
// the CardPresent event the reader reports (it may check the event);
// removed waits for the reader's CardRemoved event.
func Purchase(t testing.TB, present func(*sim.Card) reader.Card, removed func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	card, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	now := epurse.NewDateTime(time.Date(2026, 10, 8, 11, 45, 30, 0, time.UTC))

	tap := func() (reader.Card, epurse.PublicData) {
		t.Helper()
		c := present(card)
		if _, err := epurse.Select(ctx, c, epurse.AIDKingstar); err != nil {
			t.Fatalf("select: %v", err)
		}
		pub, err := epurse.ReadPublicData(ctx, c)
		if err != nil {
			t.Fatalf("public data: %v", err)
		}
		return c, pub
	}

	c, pub := tap()
	if pub.CardNumber() != sim.DemoStudentNo {
		t.Fatalf("card number %q", pub.CardNumber())
	}
	before := card.Status().Balance
	out := epurse.Pay(ctx, c, s, epurse.PurchaseRequest{Amount: 1250, Time: now, CardSerial: pub.Factor()}, nil)
	if out.Kind != epurse.Done || !out.MAC2Verified || out.Err != nil {
		t.Fatalf("purchase: %v %v", out.Kind, out.Err)
	}
	if got := card.Status().Balance; got != before-1250 || out.BalanceAfter != got {
		t.Fatalf("balance %d (outcome %d), want %d", got, out.BalanceAfter, before-1250)
	}

	// Torn right after the card executed DEBIT: the terminal cannot know.
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase, Nth: 1}); err != nil {
		t.Fatal(err)
	}
	out = epurse.Pay(ctx, c, s, epurse.PurchaseRequest{Amount: 300, Time: now, CardSerial: pub.Factor()}, nil)
	if out.Kind != epurse.Uncertain || !errors.Is(out.Err, reader.ErrCardRemoved) {
		t.Fatalf("torn purchase: %v %v, want Uncertain with ErrCardRemoved", out.Kind, out.Err)
	}
	removed()
	if got := card.Status().Balance; got != before-1250-300 {
		t.Fatalf("card balance %d: the debit should have happened", got)
	}
	c2, _ := tap()
	rec := epurse.Recover(ctx, c2, out.Pending)
	if rec.Kind != epurse.Done || rec.BalanceAfter != before-1250-300 {
		t.Fatalf("recover: %v %v balance %d", rec.Kind, rec.Err, rec.BalanceAfter)
	}
	if rec.TAC == ([4]byte{}) {
		t.Fatal("recover gave no TAC")
	}
}
