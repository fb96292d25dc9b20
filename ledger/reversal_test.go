package ledger_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// TestReversalRules (issue 10.4): a purchase-reversed record creates money
// (a pending load for the card), so it owes anything only when it names a
// completed, TAC-verified sale (by intent id) of the same device and card,
// for exactly its amount, reversed once, and the device is a POS that is
// not revoked. Anything else is kept in the journal (the batch is
// acknowledged), owes nothing and raises an alert. Each case runs over
// HTTP against a real ledger: a sale of 11.00 (intent 1, records 1-2) of
// the student card, then the reversals of the case.
func TestReversalRules(t *testing.T) {
	const sale = 1100
	type rev struct {
		intent uint64
		card   string // "" = the sale's card
		amount int64
	}
	good := rev{intent: 1, amount: sale}
	tests := []struct {
		name     string
		kind     protocol.DeviceKind
		tamper   bool // the sale's TAC is flipped in the journal: not verified
		revoke   bool // the device is revoked before the upload
		split    bool // the sale and the reversals in two batches
		revs     []rev
		wantLoad int64  // total owed to the card
		alerts   int    // reversal alerts
		why      string // in the alert's reason
	}{
		{name: "a good one", kind: protocol.DevicePOS, revs: []rev{good}, wantLoad: sale},
		{name: "a good one in a later batch", kind: protocol.DevicePOS, split: true, revs: []rev{good}, wantLoad: sale},
		{name: "no such sale", kind: protocol.DevicePOS, revs: []rev{{intent: 9, amount: sale}}, alerts: 1, why: "no completed sale"},
		{name: "names the completion record, not the intent", kind: protocol.DevicePOS, revs: []rev{{intent: 2, amount: sale}}, alerts: 1, why: "no completed sale"},
		{name: "no intent id", kind: protocol.DevicePOS, revs: []rev{{amount: sale}}, alerts: 1, why: "no completed sale"},
		{name: "other card", kind: protocol.DevicePOS, revs: []rev{{intent: 1, card: "10012026090100000099", amount: sale}}, alerts: 1, why: "card"},
		{name: "less than the sale", kind: protocol.DevicePOS, revs: []rev{{intent: 1, amount: sale - 100}}, alerts: 1, why: "amount"},
		{name: "more than the sale", kind: protocol.DevicePOS, revs: []rev{{intent: 1, amount: 5_000_000}}, alerts: 1, why: "amount"},
		{name: "not TAC-verified", kind: protocol.DevicePOS, tamper: true, revs: []rev{good}, alerts: 1, why: "TAC"},
		{name: "second reversal in the same batch", kind: protocol.DevicePOS, revs: []rev{good, good}, wantLoad: sale, alerts: 1, why: "already reversed"},
		{name: "second reversal in a later batch", kind: protocol.DevicePOS, split: true, revs: []rev{good, good}, wantLoad: sale, alerts: 1, why: "already reversed"},
		{name: "from a gate", kind: protocol.DeviceGate, revs: []rev{good}, alerts: 1, why: "not a POS"},
		{name: "from a kiosk", kind: protocol.DeviceKiosk, revs: []rev{good}, alerts: 1, why: "not a POS"},
		{name: "from a revoked device", kind: protocol.DevicePOS, revoke: true, revs: []rev{good}, alerts: 1, why: "revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl, _ := start(t)
			dev := tl.Enrol(t, "dev-1", tc.kind)
			tm := newTerminal(t, "dev-1", "student")
			card := tm.pub.CardNumber()
			tm.buy(sale, tc.tamper) // intent 1, completed 2
			if tc.split {
				if _, e := upload(t, tl, dev, tm.batch(1, 1, 2)); e != nil {
					t.Fatal(e)
				}
			}
			for _, r := range tc.revs {
				c := r.card
				if c == "" {
					c = card
				}
				if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: r.intent, CardNo: c, Amount: r.amount, Reason: "cashier"}); err != nil {
					t.Fatal(err)
				}
				if tc.split && len(tc.revs) > 1 { // each reversal in its own batch
					head, _ := tm.store.Head()
					if _, e := upload(t, tl, dev, tm.batch(head.Seq, head.Seq, head.Seq)); e != nil {
						t.Fatal(e)
					}
				}
			}
			if tc.revoke {
				if err := tl.Revoke("dev-1"); err != nil {
					t.Fatal(err)
				}
			}
			head, _ := tm.store.Head()
			first := uint64(1)
			if tc.split {
				first = 3
			}
			if ack, e := upload(t, tl, dev, tm.batch(head.Seq, first, head.Seq)); e != nil || ack.AckedThrough != head.Seq {
				t.Fatalf("upload: %+v %v: a reversal, good or not, is stored and acknowledged", ack, e)
			}
			for seq := uint64(1); seq <= head.Seq; seq++ {
				if _, err := tl.Record("dev-1", seq); err != nil {
					t.Errorf("record %d not held: %v", seq, err)
				}
			}
			loads, err := tl.PendingLoads(card)
			if err != nil {
				t.Fatal(err)
			}
			var owed int64
			for _, ld := range loads {
				owed += ld.Amount
			}
			if owed != tc.wantLoad || (tc.wantLoad > 0 && len(loads) != 1) {
				t.Errorf("pending loads %+v: %d fen owed, want %d", loads, owed, tc.wantLoad)
			}
			if other, _ := tl.PendingLoads("10012026090100000099"); len(other) != 0 {
				t.Errorf("a load for another card: %+v", other)
			}
			alerts, err := tl.Alerts()
			if err != nil {
				t.Fatal(err)
			}
			var got []ledger.Alert
			for _, a := range alerts {
				if a.Kind == ledger.AlertReversal {
					got = append(got, a)
				}
			}
			if len(got) != tc.alerts {
				t.Fatalf("reversal alerts %+v, want %d", got, tc.alerts)
			}
			for _, a := range got {
				if a.Device != "dev-1" || a.Seq < 3 || !strings.Contains(a.Reason, tc.why) {
					t.Errorf("alert %+v, want device dev-1, a reversal record and a reason with %q", a, tc.why)
				}
			}
			d := device(t, tl, "dev-1")
			if d.Stats.Reversals != tc.wantLoad || d.Stats.ReversalsRefused != uint64(tc.alerts) {
				t.Errorf("stats: reversals %d owed, %d refused; want %d, %d", d.Stats.Reversals, d.Stats.ReversalsRefused, tc.wantLoad, tc.alerts)
			}
			rep, err := tl.Report()
			if err != nil {
				t.Fatal(err)
			}
			if n := countKind(rep.Alerts, ledger.AlertReversal); n != tc.alerts {
				t.Errorf("report shows %d reversal alerts, want %d", n, tc.alerts)
			}
		})
	}
}

func countKind(as []ledger.Alert, kind string) int {
	n := 0
	for _, a := range as {
		if a.Kind == kind {
			n++
		}
	}
	return n
}

// TestReversalUnverifiableTAC: a sale whose TAC the ledger cannot check
// (no issuer keys for its key version) is not TAC-verified either.
func TestReversalUnverifiableTAC(t *testing.T) {
	c := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Now: c.Now, IssuerKeys: map[byte]epurse.Keys{}})
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(700, false)
	if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 1, CardNo: tm.pub.CardNumber(), Amount: 700}); err != nil {
		t.Fatal(err)
	}
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 3)); e != nil {
		t.Fatal(e)
	}
	if loads, _ := tl.PendingLoads(tm.pub.CardNumber()); len(loads) != 0 {
		t.Errorf("a reversal of an unverifiable sale owes %+v", loads)
	}
	alerts, _ := tl.Alerts()
	if countKind(alerts, ledger.AlertReversal) != 1 {
		t.Errorf("alerts %+v", alerts)
	}
}

// TestReversalCreditsAccount: a good reversal of a card with an account
// credits the account, marked for loading, and the card claims it at a
// kiosk; a refused one credits nothing.
func TestReversalCreditsAccount(t *testing.T) {
	tl, clk := start(t)
	pos := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	card := tm.pub.CardNumber()
	addAccount(t, tl, "S1", card)
	tm.buy(1100, false)                               // intent 1
	for _, amount := range []int64{1100, 1100, 900} { // good, twice, wrong amount
		if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 1, CardNo: card, Amount: amount, Reason: "cashier"}); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := tm.store.Head()
	if _, e := upload(t, tl, pos, tm.batch(1, 1, head.Seq)); e != nil {
		t.Fatal(e)
	}
	r, _ := tl.ShowAccount("S1")
	if r.Account.Loadable != 1100 || len(r.Entries) != 1 || r.Entries[0].Kind != "reversal" || r.Entries[0].Ref != "reversal pos-1/3" {
		t.Fatalf("account after the reversals %+v", r)
	}
	if loads, _ := tl.PendingLoads(card); len(loads) != 0 {
		t.Errorf("a bare load row beside the account: %+v", loads)
	}
	// Claimed at a kiosk onto the same card.
	kiosk := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	host := &kioskHost{t: t, tl: tl, dev: kiosk, cardNo: card}
	before, _ := epurse.GetBalance(context.Background(), tm.card)
	out := epurse.Load(context.Background(), tm.card, host, epurse.LoadRequest{Amount: 1100, Time: epurse.NewDateTime(clk.Now()),
		TermID: [6]byte{0, 0, 0, 0, 0x4B, 0x21}, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	after, _ := epurse.GetBalance(context.Background(), tm.card)
	if out.Kind != epurse.Done || after != before+1100 {
		t.Fatalf("claim of the reversal: %v %v, %d → %d", out.Kind, out.Err, before, after)
	}
}
