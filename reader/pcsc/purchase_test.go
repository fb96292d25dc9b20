package pcsc

import (
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest/drivertest"
	"github.com/openykt/yktd/reader/sim"
)

// TestPurchaseThroughPCSCD runs the e-purse purchase flow of reader/epurse
// with a software SAM against a sim card behind real pcscd and vpcd, on
// every backend, then a purchase torn after DEBIT resolved by Recover
// (GET TRANSACTION PROVE) after the card is tapped again.
func TestPurchaseThroughPCSCD(t *testing.T) {
	needPCSCD(t)
	for _, be := range Backends() {
		t.Run(string(be), func(t *testing.T) { testPurchase(t, be) })
	}
}

func testPurchase(t *testing.T, be Backend) {
	rg := newRig(t, be)
	present := func(card *sim.Card) reader.Card {
		rg.slot.Present(card)
		return rg.next(reader.CardPresent).Card
	}
	drivertest.Purchase(t, present, func() { rg.next(reader.CardRemoved) })
}
