package ledger_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// TestIntakeCardWriteAndServiceRecords: a desk's batch with card-write
// records (torn, then written) and service records, journaled by the
// device's real store, is acknowledged once: a resend gets the same ack
// and stores nothing again; the records are held byte for byte, counted
// in the device's stats, and move no money.
func TestIntakeCardWriteAndServiceRecords(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "desk-1", protocol.DeviceDesk)
	tm := newTerminal(t, "desk-1", "student")
	card := tm.pub.CardNumber()
	w := offline.CardWriteIntent{WriteID: "W-1", CardNo: card, Field: protocol.FieldTxLimit.String(), Trade: protocol.TradeSetLimit.String(),
		Operator: "desk-op1", Writes: []offline.CardWriteBinary{{SFI: 0x12, Offset: 1, Data: []byte{0, 0, 0x4E, 0x20, 0, 0, 0x75, 0x30}}}}
	if _, err := tm.store.OpenCardWrite(w); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.store.JournalService(protocol.Record{Kind: protocol.KindService, Trade: protocol.TradeSetLimit.String(),
		Ref: "00112233445566778899aabbccddeeff", CardNo: card, Operator: "desk-op1"}); err != nil { // 1
		t.Fatal(err)
	}
	if _, err := tm.store.SettleCardWrite("W-1", offline.CardWriteTornUnknown, offline.CardWriteEcho{}); err != nil { // 2
		t.Fatal(err)
	}
	tm.clock.Advance(time.Second)
	if _, err := tm.store.SettleCardWrite("W-1", offline.CardWriteWritten, offline.CardWriteEcho{TxLimit: 20_000}); err != nil { // 3
		t.Fatal(err)
	}
	if _, err := tm.store.JournalService(protocol.Record{Kind: protocol.KindService, Trade: protocol.TradeReportLoss.String(),
		Ref: "ffeeddccbbaa99887766554433221100", Account: "S2024001", Reason: "wrong-pin", Operator: "desk-op1"}); err != nil { // 4
		t.Fatal(err)
	}
	b := tm.batch(1, 1, 4)
	ack, e := upload(t, tl, dev, b)
	if e != nil || ack.AckedThrough != 4 {
		t.Fatalf("ack %+v, %v", ack, e)
	}
	clk.Advance(time.Minute)
	again, e := upload(t, tl, dev, b)
	if e != nil || again.AckedThrough != 4 || again.ServerTime != ack.ServerTime || !bytes.Equal(again.Head, ack.Head) {
		t.Fatalf("resend: %+v %v, want the same ack %+v", again, e, ack)
	}
	if ack2, e := upload(t, tl, dev, tm.batch(2, 2, 4)); e != nil || ack2.AckedThrough != 4 {
		t.Fatalf("overlapping resend: %+v %v", ack2, e)
	}
	d := device(t, tl, "desk-1")
	if d.HighWater != 4 || d.Stats.Records != 4 || d.Stats.CardWrites != 2 || d.Stats.Services != 2 || d.Stats.Batches != 1 ||
		d.Stats.Debits != 0 || d.Stats.Loads != 0 || d.Stats.Reversals != 0 || d.Stats.OpenIntents != 0 {
		t.Fatalf("device stats %+v", d.Stats)
	}
	for seq := uint64(1); seq <= 4; seq++ {
		raw, err := tl.Record("desk-1", seq)
		if err != nil || !bytes.Equal(raw, tm.entries(seq, seq)[0].Raw) {
			t.Fatalf("record %d: %v", seq, err)
		}
		r, err := protocol.DecodeRecord(raw)
		if err != nil || (r.Kind != protocol.KindCardWrite && r.Kind != protocol.KindService) {
			t.Fatalf("record %d: %+v, %v", seq, r, err)
		}
	}
	if info, err := tl.CardInfo(card); !isNotFound(err) {
		t.Fatalf("card %+v %v: no purchase, so no card balance known", info, err)
	}
}
