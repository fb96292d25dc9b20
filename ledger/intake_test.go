package ledger_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

func TestBatchExactlyOnce(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(1200, false) // records 1, 2
	tm.buy(800, false)  // 3, 4
	tm.gate(3)          // 5..7

	first := tm.batch(1, 1, 4)
	ack, e := upload(t, tl, dev, first)
	if e != nil {
		t.Fatal(e)
	}
	h4 := tm.entries(4, 4)[0].Hash
	if ack.AckedThrough != 4 || !bytes.Equal(ack.Head, h4[:]) || ack.BatchNo != 1 || ack.ServerTime != clk.Now().UnixMilli() {
		t.Fatalf("ack %+v", ack)
	}
	// The ack goes into the terminal's store as the sync client would.
	if err := tm.store.Ack(ack.AckedThrough, ack.HeadHash()); err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute)
	again, e := upload(t, tl, dev, first)
	if e != nil || again.AckedThrough != ack.AckedThrough || !bytes.Equal(again.Head, ack.Head) || again.ServerTime != ack.ServerTime {
		t.Fatalf("duplicate: %+v %v, want the same ack %+v", again, e, ack)
	}

	_, e = upload(t, tl, dev, tm.batch(3, 6, 7))
	wantCode(t, e, protocol.CodeGap)
	if e.Expected != 5 {
		t.Errorf("gap: expected %d, want 5", e.Expected)
	}

	if ack, e = upload(t, tl, dev, tm.batch(2, 5, 7)); e != nil || ack.AckedThrough != 7 {
		t.Fatalf("batch 5..7: %+v %v", ack, e)
	}
	// Overlapping resend of held records under a new batch number.
	if ack, e = upload(t, tl, dev, tm.batch(4, 3, 7)); e != nil || ack.AckedThrough != 7 {
		t.Fatalf("overlapping resend: %+v %v", ack, e)
	}

	d := device(t, tl, "pos-1")
	if d.HighWater != 7 || d.Stats.Records != 7 || d.Stats.Debits != 2000 || d.Stats.DebitCount != 2 || d.Stats.Gaps != 1 ||
		d.Stats.TACVerified != 2 || d.Stats.OpenIntents != 0 {
		t.Errorf("device %+v", d.Stats)
	}
	for seq := uint64(1); seq <= 7; seq++ {
		raw, err := tl.Record("pos-1", seq)
		if err != nil || !bytes.Equal(raw, tm.entries(seq, seq)[0].Raw) {
			t.Errorf("record %d: %v", seq, err)
		}
	}
	card, err := tl.CardInfo(tm.pub.CardNumber())
	if err != nil || card.Balance != 10000-2000 || card.OfflineCounter != 2 {
		t.Errorf("card %+v %v", card, err)
	}
}

// TestBatchRefusals: every refused batch gets its stable code and stores
// nothing.
func TestBatchRefusals(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(300, false)
	tm.gate(7) // 3..9
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 7)); e != nil {
		t.Fatal(e)
	}
	// Another journal under the same device id: a fork.
	other := newTerminal(t, "pos-1", "staff")
	other.gate(9)
	stranger := newTerminal(t, "pos-9", "staff")
	stranger.gate(2)

	good := tm.batch(2, 8, 9)
	forged := dev.Seal(t, &good)
	forged[len(forged)-1] ^= 0x01
	thief := ledgertest.NewDevice(t, "pos-1") // right kid, wrong key
	wrongKey := thief.Seal(t, &good)
	otherDev := ledgertest.NewDevice(t, "pos-9")

	tests := []struct {
		name string
		dev  string
		msg  []byte
		code protocol.Code
	}{
		{"fork", "pos-1", dev.Seal(t, ptr(other.batch(3, 1, 3))), protocol.CodeFork},
		{"chain broken: does not link to the held head", "pos-1", dev.Seal(t, ptr(other.batch(4, 8, 9))), protocol.CodeChainBroken},
		{"forged signature", "pos-1", forged, protocol.CodeBadSignature},
		{"wrong key", "pos-1", wrongKey, protocol.CodeBadSignature},
		{"unenrolled", "pos-9", otherDev.Seal(t, ptr(stranger.batch(1, 1, 2))), protocol.CodeUnknownDevice},
		{"sealed for another device", "pos-1", sealFor(t, dev, &good, "pos-2"), protocol.CodeBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, e := uploadRaw(t, tl, tc.dev, tc.msg)
			wantCode(t, e, tc.code)
			if d := device(t, tl, "pos-1"); d.HighWater != 7 {
				t.Errorf("high water %d after a refused batch", d.HighWater)
			}
			if _, err := tl.Record("pos-1", 8); !isNotFound(err) {
				t.Errorf("record 8 stored by a refused batch: %v", err)
			}
			if _, err := tl.Record("pos-9", 1); !isNotFound(err) {
				t.Errorf("pos-9 record stored: %v", err)
			}
		})
	}
	for seq := uint64(1); seq <= 3; seq++ {
		raw, _ := tl.Record("pos-1", seq)
		if !bytes.Equal(raw, tm.entries(seq, seq)[0].Raw) {
			t.Errorf("held record %d overwritten", seq)
		}
	}
	rep, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Alerts) != 1 || rep.Alerts[0].Device != "pos-1" || rep.Alerts[0].Seq != 1 || rep.Alerts[0].BatchNo != 3 {
		t.Fatalf("alerts %+v", rep.Alerts)
	}
	d := device(t, tl, "pos-1")
	if d.Stats.Forks != 1 || d.Stats.ChainBroken != 1 {
		t.Errorf("stats %+v", d.Stats)
	}
	// The good batch still goes in afterwards.
	if ack, e := upload(t, tl, dev, good); e != nil || ack.AckedThrough != 9 {
		t.Fatalf("good batch: %+v %v", ack, e)
	}
	// Seq 1 must link to this device's genesis value, not another's.
	d3 := tl.Enrol(t, "pos-3", protocol.DevicePOS)
	foreign := stranger.batch(1, 1, 2) // chained from the genesis of pos-9
	foreign.DeviceID = "pos-3"
	_, e := upload(t, tl, d3, foreign)
	wantCode(t, e, protocol.CodeChainBroken)
	if _, err := tl.Record("pos-3", 1); !isNotFound(err) {
		t.Errorf("record stored from a foreign chain: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// sealFor signs m with d's key but for another device's AAD.
func sealFor(t *testing.T, d *ledgertest.Device, m protocol.Message, aad string) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := protocol.Sign(d.Signer, m.ContentType(), b, []byte(aad), 0)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestTACVerification(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "staff")
	tm.buy(1500, false) // 1, 2
	tm.buy(250, true)   // 3, 4: TAC tampered in the journal
	// A torn sale: the intent is journaled, DEBIT is never answered.
	p, err := epurse.PreparePurchase(context.Background(), tm.card, tm.sam, epurse.PurchaseRequest{Amount: 99, Time: epurse.NewDateTime(tm.clock.Now()), CardSerial: tm.pub.Factor()})
	if err != nil {
		t.Fatal(err)
	}
	in, err := tm.store.OpenIntent(offline.PurchaseIntent{CardNo: tm.pub.CardNumber(), Amount: 99, CardCounter: uint32(p.Pending.OfflineCounter),
		TerminalID: p.Pending.TermID[:], TerminalSeq: p.Pending.TermSeq, TxTime: p.Pending.Time[:], CardSerial: p.Pending.CardSerial[:],
		KeyVersion: p.Pending.KeyVersion, MAC1: p.Pending.MAC1[:]}) // 5
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.store.MarkUncertain(in.ID, "card removed"); err != nil { // 6
		t.Fatal(err)
	}
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 6)); e != nil {
		t.Fatal(e)
	}
	d := device(t, tl, "pos-1")
	if d.Stats.TACVerified != 1 || d.Stats.TACBad != 1 || d.Stats.Debits != 1750 || d.Stats.Uncertain != 1 || d.Stats.OpenIntents != 0 {
		t.Errorf("stats %+v", d.Stats)
	}
	flagged, err := tl.Flagged("pos-1")
	if err != nil || len(flagged) != 1 || flagged[0].Seq != 4 || flagged[0].Result != ledger.TACBad || flagged[0].Amount != 250 {
		t.Fatalf("flagged %+v %v", flagged, err)
	}
	rep, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Devices) != 1 || len(rep.Devices[0].UncertainIntents) != 1 || rep.Devices[0].UncertainIntents[0] != in.ID || len(rep.Devices[0].Flagged) != 1 {
		t.Errorf("report %+v", rep.Devices)
	}
}

func TestTACUnverifiableWithoutKeys(t *testing.T) {
	c := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Now: c.Now, IssuerKeys: map[byte]epurse.Keys{}})
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(100, false)
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 2)); e != nil {
		t.Fatal(e)
	}
	f, err := tl.Flagged("pos-1")
	if err != nil || len(f) != 1 || f[0].Result != ledger.TACUnverifiable {
		t.Fatalf("flagged %+v %v", f, err)
	}
}

// TestReversalOwesALoad: a cashier's reversal of a completed sale becomes
// money waiting for the card.
func TestReversalOwesALoad(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(1100, false) // 1, 2
	if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 1, CardNo: tm.pub.CardNumber(), Amount: 1100, Reason: "cashier"}); err != nil {
		t.Fatal(err)
	}
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 3)); e != nil {
		t.Fatal(e)
	}
	loads, err := tl.PendingLoads(tm.pub.CardNumber())
	if err != nil || len(loads) != 1 || loads[0].Amount != 1100 || loads[0].Source != "reversal pos-1/3" {
		t.Fatalf("pending %+v %v", loads, err)
	}
	if d := device(t, tl, "pos-1"); d.Stats.Reversals != 1100 || d.Stats.ReversalCount != 1 || d.Stats.Debits != 1100 {
		t.Errorf("stats %+v", d.Stats)
	}
	// A duplicate of the batch owes nothing more.
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 3)); e != nil {
		t.Fatal(e)
	}
	if loads, _ := tl.PendingLoads(tm.pub.CardNumber()); len(loads) != 1 {
		t.Errorf("duplicate batch added a load: %d", len(loads))
	}
}

// TestConcurrentDuplicates: the same batch posted at once by several
// retries is stored once and every retry gets the same ack.
func TestConcurrentDuplicates(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(100, false)
	tm.gate(8)
	msg := dev.Seal(t, ptr(tm.batch(1, 1, 10)))
	type res struct {
		ack protocol.Ack
		e   *protocol.Error
	}
	out := make(chan res, 8)
	for range 8 {
		go func() {
			status, body := tl.Post(t, "/v1/batches", msg)
			if status != http.StatusOK {
				out <- res{e: ledgertest.ErrorOf(body)}
				return
			}
			ack, _, err := protocol.Open[protocol.Ack](tl.Keys(), body, dev.ID)
			if err != nil {
				out <- res{e: &protocol.Error{Code: protocol.CodeMalformed, Message: err.Error()}}
				return
			}
			out <- res{ack: ack}
		}()
	}
	var first protocol.Ack
	for i := range 8 {
		r := <-out
		if r.e != nil {
			t.Fatalf("retry %d: %v", i, r.e)
		}
		if i == 0 {
			first = r.ack
		} else if r.ack.AckedThrough != first.AckedThrough || r.ack.ServerTime != first.ServerTime || !bytes.Equal(r.ack.Head, first.Head) {
			t.Errorf("ack %+v, first %+v", r.ack, first)
		}
	}
	if d := device(t, tl, "pos-1"); d.Stats.Records != 10 || d.Stats.Batches != 1 || d.Stats.Debits != 100 {
		t.Errorf("stats %+v", d.Stats)
	}
}
