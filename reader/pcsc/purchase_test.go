package pcsc

import (
	"bytes"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest/drivertest"
	"github.com/openykt/yktd/reader/sim"
)

// TestPurchaseThroughPCSCD runs the e-purse walk of drivertest.Purchase on
// the strict virtual card behind real pcscd and vpcd, on every backend: a
// purchase, tears recovered by PROVE and by the card's log after another
// terminal's sale, a load refused without a PIN and done with the system
// PIN, and a phone whose UID (read with FF CA through pcscd) changes at
// every presentation.
func TestPurchaseThroughPCSCD(t *testing.T) {
	needPCSCD(t)
	for _, be := range Backends() {
		t.Run(string(be), func(t *testing.T) { testPurchase(t, be) })
	}
}

func testPurchase(t *testing.T, be Backend) {
	rg := newRig(t, be)
	drivertest.Purchase(t, drivertest.CardField{
		Present: func(card *sim.Card) reader.Event {
			rg.slot.Present(card)
			ev := rg.next(reader.CardPresent)
			if !bytes.Equal(ev.UID, card.UID()) {
				t.Errorf("UID % X, the card's is % X", ev.UID, card.UID())
			}
			return ev
		},
		Remove: func() {
			rg.slot.Remove()
			rg.next(reader.CardRemoved)
		},
		Removed: func() { rg.next(reader.CardRemoved) },
	})
}
