package ledger_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// newStoreEpoch is a terminal whose store was started anew as journal
// epoch epoch of deviceID (yktd run --new-store): its first record is
// store-started with Version = epoch.
func newStoreEpoch(t *testing.T, deviceID, demo string, epoch uint64) *terminal {
	t.Helper()
	oc := offlinetest.NewClock(time.Date(2026, 9, 14, 12, 45, 0, 0, time.UTC))
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: deviceID, Clock: oc, Epoch: epoch})
	if st.Epoch() != epoch {
		t.Fatalf("store epoch %d, want %d", st.Epoch(), epoch)
	}
	tm := newTerminal(t, deviceID, demo)
	tm.store, tm.clock = st, oc
	if _, err := st.Append(protocol.Record{Kind: protocol.KindStoreStarted, Version: epoch, Reason: "new-store"}); err != nil {
		t.Fatal(err)
	}
	return tm
}

// epochBatch is tm.batch in the store's epoch.
func (tm *terminal) epochBatch(no, first, last uint64) protocol.Batch {
	b := tm.batch(no, first, last)
	b.Epoch = tm.store.Epoch()
	return b
}

// TestNewEpoch (issue 10.8): a device whose store was lost starts a new
// store as the next journal epoch. The ledger takes that epoch's first
// batch (sequence 1, linked to the epoch's genesis, first record
// store-started), echoes the epoch in every ack, and applies the
// exactly-once rules within it; the old epoch keeps its records.
func TestNewEpoch(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	old := newTerminal(t, "pos-1", "student")
	old.buy(900, false) // 1, 2
	old.gate(3)         // 3..5
	// 6: a sale whose intent is journaled and then the store is lost.
	torn, err := old.store.OpenIntent(offline.PurchaseIntent{CardNo: old.pub.CardNumber(), Amount: 450, BalanceBefore: 9100, CardCounter: 1,
		TerminalID: make([]byte, 6), TerminalSeq: 9, TxTime: []byte{0x20, 0x26, 0x09, 0x14, 0x12, 0x00, 0x00}, CardSerial: make([]byte, 8),
		KeyVersion: 1, MAC1: make([]byte, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if _, e := upload(t, tl, dev, old.batch(1, 1, 6)); e != nil {
		t.Fatal(e)
	}
	// The store is lost; yktd starts epoch 1 over the same identity.
	tm := newStoreEpoch(t, "pos-1", "student", 1)
	tm.gate(4) // 2..5
	ack, e := upload(t, tl, dev, tm.epochBatch(1, 1, 3))
	if e != nil {
		t.Fatalf("first batch of epoch 1: %v", e)
	}
	h3 := tm.entries(3, 3)[0].Hash
	if ack.Epoch != 1 || ack.AckedThrough != 3 || !bytes.Equal(ack.Head, h3[:]) {
		t.Fatalf("ack %+v, want epoch 1 through 3", ack)
	}
	// Exactly once within epoch 1.
	if again, e := upload(t, tl, dev, tm.epochBatch(1, 1, 3)); e != nil || again.Epoch != 1 || again.AckedThrough != 3 || again.ServerTime != ack.ServerTime {
		t.Errorf("duplicate in epoch 1: %+v %v", again, e)
	}
	_, e = upload(t, tl, dev, tm.epochBatch(2, 5, 5))
	wantCode(t, e, protocol.CodeGap)
	if e.Expected != 4 {
		t.Errorf("gap in epoch 1: expected %d, want 4", e.Expected)
	}
	other := newStoreEpoch(t, "pos-1", "staff", 1)
	other.gate(2)
	_, e = upload(t, tl, dev, other.epochBatch(3, 1, 3))
	wantCode(t, e, protocol.CodeFork)
	if ack, e := upload(t, tl, dev, tm.epochBatch(4, 4, 5)); e != nil || ack.Epoch != 1 || ack.AckedThrough != 5 {
		t.Errorf("rest of epoch 1: %+v %v", ack, e)
	}
	// Epoch 0's records are kept as they were, epoch 1's beside them.
	for seq := uint64(1); seq <= 6; seq++ {
		raw, err := tl.Record("pos-1", seq)
		if err != nil || !bytes.Equal(raw, old.entries(seq, seq)[0].Raw) {
			t.Errorf("epoch 0 record %d: %v", seq, err)
		}
	}
	for seq := uint64(1); seq <= 5; seq++ {
		raw, err := tl.EpochRecord("pos-1", 1, seq)
		if err != nil || !bytes.Equal(raw, tm.entries(seq, seq)[0].Raw) {
			t.Errorf("epoch 1 record %d: %v", seq, err)
		}
	}
	if _, err := tl.EpochRecord("pos-1", 1, 6); !isNotFound(err) {
		t.Errorf("epoch 1 record 6: %v", err)
	}
	d := device(t, tl, "pos-1")
	if d.Epoch != 1 || d.HighWater != 5 || len(d.Closed) != 1 || d.Closed[0].Epoch != 0 || d.Closed[0].HighWater != 6 ||
		d.Stats.Records != 11 || d.Stats.Forks != 1 || d.Stats.Gaps != 1 {
		t.Errorf("device %+v", d)
	}
	alerts, err := tl.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	var closed []ledger.Alert
	for _, a := range alerts {
		if a.Kind == ledger.AlertEpochClosed {
			closed = append(closed, a)
		}
	}
	if len(closed) != 1 || closed[0].Epoch != 0 || closed[0].HighWater != 6 || len(closed[0].Stranded) != 1 || closed[0].Stranded[0] != torn.ID {
		t.Errorf("epoch-closed alerts %+v, want epoch 0 at 6 with intent %d stranded", closed, torn.ID)
	}
	rep, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	dr := rep.Devices[0]
	if dr.Epoch != 1 || len(dr.ClosedEpochs) != 1 || dr.ClosedEpochs[0].HighWater != 6 || len(dr.ClosedEpochs[0].OpenIntents) != 1 {
		t.Errorf("report %+v", dr)
	}
}

// TestEpochReversals: intent ids count from 1 in every epoch, so a
// reversal is checked against the sales of its own epoch only.
func TestEpochReversals(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	old := newTerminal(t, "pos-1", "student")
	old.buy(900, false) // intent 1, completed 2
	if _, e := upload(t, tl, dev, old.batch(1, 1, 2)); e != nil {
		t.Fatal(e)
	}
	tm := newStoreEpoch(t, "pos-1", "student", 1) // 1 store-started
	tm.buy(300, false)                            // intent 2, completed 3
	card := tm.pub.CardNumber()
	for _, r := range []protocol.Record{
		{Kind: protocol.KindPurchaseReversed, IntentID: 1, CardNo: card, Amount: 900}, // 4: epoch 0's sale
		{Kind: protocol.KindPurchaseReversed, IntentID: 2, CardNo: card, Amount: 300}, // 5: epoch 1's
	} {
		if _, err := tm.store.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, e := upload(t, tl, dev, tm.epochBatch(5, 1, 5)); e != nil {
		t.Fatal(e)
	}
	loads, _ := tl.PendingLoads(card)
	if len(loads) != 1 || loads[0].Amount != 300 || loads[0].Source != "reversal pos-1/1/5" {
		t.Errorf("loads %+v, want epoch 1's reversal only", loads)
	}
	alerts, _ := tl.Alerts()
	if countKind(alerts, ledger.AlertReversal) != 1 {
		t.Errorf("alerts %+v", alerts)
	}
}

// TestNewEpochRefusals: what does not open an epoch properly opens
// nothing.
func TestNewEpochRefusals(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	old := newTerminal(t, "pos-1", "student")
	old.gate(3)
	if _, e := upload(t, tl, dev, old.batch(1, 1, 3)); e != nil {
		t.Fatal(e)
	}
	tm := newStoreEpoch(t, "pos-1", "student", 1)
	tm.gate(3)

	// Not from sequence 1: the ledger wants the epoch's start.
	_, e := upload(t, tl, dev, tm.epochBatch(1, 2, 4))
	wantCode(t, e, protocol.CodeGap)
	if e.Expected != 1 {
		t.Errorf("epoch 1 from 2: expected %d, want 1", e.Expected)
	}
	// Linked to epoch 0's genesis instead of epoch 1's: epoch 0's own
	// records offered as epoch 1.
	b := old.batch(2, 1, 3)
	b.Epoch = 1
	_, e = upload(t, tl, dev, b)
	wantCode(t, e, protocol.CodeChainBroken)
	// An epoch-1 journal whose first record is not store-started.
	bare := newTerminal(t, "pos-1", "student")
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: "pos-1", Epoch: 1})
	bare.store = st
	bare.gate(2)
	_, e = upload(t, tl, dev, bare.epochBatch(3, 1, 2))
	wantCode(t, e, protocol.CodeMalformed)
	// Epoch 0 goes on as if nothing happened.
	old.gate(1)
	if ack, e := upload(t, tl, dev, old.batch(4, 4, 4)); e != nil || ack.Epoch != 0 || ack.AckedThrough != 4 {
		t.Fatalf("epoch 0 after refused epoch-1 batches: %+v %v", ack, e)
	}
	if ack, e := upload(t, tl, dev, tm.epochBatch(5, 1, 4)); e != nil || ack.Epoch != 1 {
		t.Fatalf("the proper epoch-1 batch: %+v %v", ack, e)
	}
}

// TestClosedEpochCollected: after epoch 1 began, the old store's records
// that never reached the ledger (it came back from repair) are still
// taken into epoch 0 when they extend it, under epoch 0's own
// exactly-once rules: nothing is stranded that can be checked.
func TestClosedEpochCollected(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	old := newTerminal(t, "pos-1", "student")
	old.gate(5)
	if _, e := upload(t, tl, dev, old.batch(1, 1, 3)); e != nil {
		t.Fatal(e)
	}
	tm := newStoreEpoch(t, "pos-1", "student", 1)
	tm.gate(2)
	if _, e := upload(t, tl, dev, tm.epochBatch(1, 1, 3)); e != nil {
		t.Fatal(e)
	}
	// Epoch 0's records 4..5 arrive late.
	ack, e := upload(t, tl, dev, old.batch(2, 4, 5))
	if e != nil || ack.Epoch != 0 || ack.AckedThrough != 5 {
		t.Fatalf("late records of closed epoch 0: %+v %v", ack, e)
	}
	for seq := uint64(4); seq <= 5; seq++ {
		if raw, err := tl.Record("pos-1", seq); err != nil || !bytes.Equal(raw, old.entries(seq, seq)[0].Raw) {
			t.Errorf("epoch 0 record %d: %v", seq, err)
		}
	}
	d := device(t, tl, "pos-1")
	if d.Epoch != 1 || d.HighWater != 3 || len(d.Closed) != 1 || d.Closed[0].HighWater != 5 || d.Closed[0].Late != 2 {
		t.Errorf("device %+v", d)
	}
	alerts, _ := tl.Alerts()
	if countKind(alerts, ledger.AlertClosedEpochRecords) != 1 {
		t.Errorf("alerts %+v, want one closed-epoch-records", alerts)
	}
	// A fork of the closed epoch is still a fork.
	other := newTerminal(t, "pos-1", "staff")
	other.gate(6)
	_, e = upload(t, tl, dev, other.batch(3, 5, 6))
	wantCode(t, e, protocol.CodeFork)
	// And epoch 1 goes on.
	tm.gate(1)
	if ack, e := upload(t, tl, dev, tm.epochBatch(4, 4, 4)); e != nil || ack.Epoch != 1 || ack.AckedThrough != 4 {
		t.Errorf("epoch 1 after the late epoch-0 records: %+v %v", ack, e)
	}
}
