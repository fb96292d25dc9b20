package ledger_test

import (
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// oldCardRig: the holder's student card spends at a POS (three sales,
// uploaded), then is replaced by the "low" demo card.
func oldCardRig(t *testing.T, tamperSecond bool) (*ledgertest.Ledger, *clock, *terminal, *ledgertest.Device) {
	t.Helper()
	tl, clk := start(t)
	pos := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	addAccount(t, tl, "S1", tm.pub.CardNumber())
	tm.buy(1000, false)
	tm.buy(500, tamperSecond) // a flipped TAC: the ledger holds no verified record of this counter
	tm.buy(250, false)
	if _, e := upload(t, tl, pos, tm.batch(1, 1, 6)); e != nil {
		t.Fatal(e)
	}
	if _, err := tl.ReissueCard("S1", sim.DemoLowBalanceNo); err != nil {
		t.Fatal(err)
	}
	return tl, clk, tm, pos
}

func wantWaiting(t *testing.T, tl *ledgertest.Ledger, why string) {
	t.Helper()
	st, err := tl.ReleaseOldCards("S1")
	if err != nil || len(st) != 1 || st[0].Released || !strings.Contains(st[0].Waiting, why) {
		t.Fatalf("release: %+v %v, want waiting for %q", st, err, why)
	}
	if a := account(t, tl, "S1"); a.Loadable != 0 || a.Balance != 0 {
		t.Fatalf("account credited before the release: %+v", a)
	}
}

// TestOldCardReleased: refused before 24 h, released after (no counter
// gap), once, and the new card claims it at a kiosk.
func TestOldCardReleased(t *testing.T) {
	tl, clk, _, _ := oldCardRig(t, false)
	wantWaiting(t, tl, "moves after 24h")
	clk.Advance(23 * time.Hour)
	wantWaiting(t, tl, "moves after 24h")
	clk.Advance(time.Hour)
	kiosk := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	// The new card's tap at the kiosk releases it on the way.
	c := claims(t, tl, kiosk, sim.DemoLowBalanceNo, 500)
	const left = 10000 - 1000 - 500 - 250
	if c.Loadable != left || c.Claimable != left {
		t.Fatalf("claims of the new card %+v, want %d", c, left)
	}
	st, _ := tl.ReleaseOldCards("S1")
	if len(st) != 1 || !st[0].Released || st[0].Amount != left {
		t.Errorf("status %+v", st)
	}
	if a := account(t, tl, "S1"); a.Balance != left || len(a.OldCards) != 1 || a.OldCards[0].ReleasedAmount != left {
		t.Errorf("released twice or not at all: %+v", a)
	}
	// Claimed onto the new card.
	tm2 := newTerminal(t, "kiosk-1", "low")
	host := &kioskHost{t: t, tl: tl, dev: kiosk, cardNo: sim.DemoLowBalanceNo}
	out := epurse.Load(t.Context(), tm2.card, host, epurse.LoadRequest{Amount: left, Time: epurse.NewDateTime(clk.Now()),
		TermID: [6]byte{0, 0, 0, 0, 0x4B, 0x31}, CardSerial: tm2.pub.Factor(), PIN: tm2.sam})
	if out.Kind != epurse.Done || out.BalanceAfter != 500+left {
		t.Fatalf("claim on the new card: %v %v", out.Kind, out.Err)
	}
}

// TestOldCardCounterGap: a counter without its verified record holds the
// balance past 24 h, until max offline has passed and every device that
// saw the card has uploaded since the cancellation.
func TestOldCardCounterGap(t *testing.T) {
	tl, clk, tm, pos := oldCardRig(t, true)
	clk.Advance(25 * time.Hour)
	wantWaiting(t, tl, "offline counter 1 has no record")
	clk.Advance(ledger.DefaultMaxOffline)
	wantWaiting(t, tl, "has not uploaded since the cancellation")
	tm.gate(1) // the POS journals something and uploads it
	if _, e := upload(t, tl, pos, tm.batch(2, 7, 7)); e != nil {
		t.Fatal(e)
	}
	st, err := tl.ReleaseOldCards("S1")
	if err != nil || len(st) != 1 || !st[0].Released || st[0].Amount != 10000-1000-500-250 {
		t.Fatalf("after max offline: %+v %v", st, err)
	}
}
