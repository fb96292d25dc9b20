package pn532_test

import (
	"bytes"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest/drivertest"
	"github.com/openykt/yktd/reader/sim"
)

// TestPurchase runs the e-purse purchase of reader/epurse with a software
// SAM against a sim card in the field of a simulated PN532, through the
// driver on a real pseudo-terminal: the purchase the PC/SC driver passes,
// then a purchase torn after DEBIT resolved by Recover after a new tap.
func TestPurchase(t *testing.T) {
	rg := newRig(t)
	present := func(card *sim.Card) reader.Card {
		t.Helper()
		rg.mod.Tap(card)
		ev := rg.next(reader.CardPresent)
		if !bytes.Equal(ev.ATR, card.ATR()) {
			t.Errorf("ATR % X, want the card's % X", ev.ATR, card.ATR())
		}
		if !bytes.Equal(ev.UID, card.UID()) || ev.Tech != reader.TechISO14443A {
			t.Errorf("UID % X tech %v, want % X iso14443a", ev.UID, ev.Tech, card.UID())
		}
		return ev.Card
	}
	drivertest.Purchase(t, present, func() { rg.next(reader.CardRemoved) })
}
