package pn532_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// TestPurchase runs the e-purse purchase of reader/epurse with a software
// SAM against a sim card in the field of a simulated PN532, through the
// driver on a real pseudo-terminal: the purchase the PC/SC driver passes,
// then a purchase torn after DEBIT resolved by Recover after a new tap.
func TestPurchase(t *testing.T) {
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
	rg := newRig(t)
	now := epurse.NewDateTime(time.Date(2026, 10, 8, 11, 45, 30, 0, time.UTC))

	tap := func() (reader.Card, epurse.PublicData) {
		t.Helper()
		rg.mod.Tap(card)
		ev := rg.next(reader.CardPresent)
		if !bytes.Equal(ev.ATR, card.ATR()) {
			t.Errorf("ATR % X, want the card's % X", ev.ATR, card.ATR())
		}
		if !bytes.Equal(ev.UID, card.UID()) || ev.Tech != reader.TechISO14443A {
			t.Errorf("UID % X tech %v, want % X iso14443a", ev.UID, ev.Tech, card.UID())
		}
		if _, err := epurse.Select(ctx, ev.Card, epurse.AIDKingstar); err != nil {
			t.Fatalf("select: %v", err)
		}
		pub, err := epurse.ReadPublicData(ctx, ev.Card)
		if err != nil {
			t.Fatalf("public data: %v", err)
		}
		return ev.Card, pub
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
	rg.next(reader.CardRemoved)
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
