package pn532_test

import (
	"bytes"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest/drivertest"
	"github.com/openykt/yktd/reader/sim"
)

// TestPurchase runs the e-purse walk of drivertest.Purchase on the strict
// virtual card in the field of a simulated PN532, through the driver on a
// real pseudo-terminal: the walk the PC/SC driver passes (tears recovered
// by PROVE and by the log, a load with the system PIN, a phone's random
// UIDs).
func TestPurchase(t *testing.T) {
	rg := newRig(t)
	drivertest.Purchase(t, drivertest.CardField{
		Present: func(card *sim.Card) reader.Event {
			t.Helper()
			rg.mod.Tap(card)
			ev := rg.next(reader.CardPresent)
			if !bytes.Equal(ev.ATR, card.ATR()) {
				t.Errorf("ATR % X, want the card's % X", ev.ATR, card.ATR())
			}
			if !bytes.Equal(ev.UID, card.UID()) || ev.Tech != reader.TechISO14443A {
				t.Errorf("UID % X tech %v, want % X iso14443a", ev.UID, ev.Tech, card.UID())
			}
			return ev
		},
		Remove: func() {
			rg.mod.Remove()
			rg.next(reader.CardRemoved)
		},
		Removed: func() { rg.next(reader.CardRemoved) },
	})
}
