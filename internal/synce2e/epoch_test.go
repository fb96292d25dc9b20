package synce2e

import (
	"context"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

// TestNewStoreEpoch (issue 10.8): a device's store is lost after part of
// its journal reached the ledger; it starts a new store as epoch 1 over
// the same identity (key, enrolment, ledger key), and the real sync
// client uploads it: the ledger takes epoch 1 from sequence 1, every ack
// echoes the epoch, nothing of epoch 0 is overwritten. When the old store
// comes back, its records that never arrived are still collected into
// epoch 0.
func TestNewStoreEpoch(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 7})
	d.enrol(t, lr)
	d.journal(t, 20)
	if res, err := d.client.SyncOnce(ctx); err != nil || res.Cursor != 20 {
		t.Fatalf("epoch 0 upload: %+v %v", res, err)
	}
	d.journal(t, 5) // 21..25: never uploaded before the store is lost

	clk := offlinetest.NewClock(time.Date(2024, 9, 2, 8, 0, 0, 0, time.UTC))
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: deviceID, Clock: clk, Epoch: 1})
	if _, err := st.Append(protocol.Record{Kind: protocol.KindStoreStarted, Version: 1, Reason: "new-store"}); err != nil {
		t.Fatal(err)
	}
	nd := &device{store: st, clock: clk, signer: d.signer}
	src := st.SyncSource()
	var err error
	nd.client, err = syncclient.New(syncclient.Options{
		Ledger: lr.srv.URL, DeviceID: deviceID, Signer: d.signer, BatchSize: 7, Kind: protocol.DevicePOS,
		Journal: src, Status: src, Rules: src, Logger: quiet(), LedgerKeys: d.client.LedgerKeys(),
	})
	if err != nil {
		t.Fatal(err)
	}
	nd.journal(t, 15) // 2..16
	res, err := nd.client.SyncOnce(ctx)
	if err != nil || res.Cursor != 16 || res.Records != 16 {
		t.Fatalf("epoch 1 upload: %+v %v", res, err)
	}
	nd.journal(t, 3)
	if res, err := nd.client.SyncOnce(ctx); err != nil || res.Cursor != 19 {
		t.Fatalf("epoch 1 second upload: %+v %v", res, err)
	}
	for seq := uint64(1); seq <= 20; seq++ {
		want, _ := d.store.Records(seq-1, 1)
		if got, err := lr.ledger().Record(deviceID, seq); err != nil || string(got) != string(want[0].Raw) {
			t.Fatalf("epoch 0 record %d: %v, not the old store's", seq, err)
		}
	}
	// The old store is back (repaired): its records 21..25 reach epoch 0.
	if res, err := d.client.SyncOnce(ctx); err != nil || res.Cursor != 25 {
		t.Fatalf("the old store's remaining records: %+v %v", res, err)
	}
	checkEpochHolds(t, lr, d.store, 0, 25)
	checkEpochHolds(t, lr, nd.store, 1, 19)
	dev, err := lr.ledger().Device(deviceID)
	if err != nil || dev.Epoch != 1 || dev.HighWater != 19 || dev.Stats.Records != 25+19 {
		t.Errorf("device %+v %v: want epoch 1 at 19, 44 records counted once", dev, err)
	}
}

// checkEpochHolds asserts that the ledger holds exactly records 1..n of
// the store as the device's journal epoch epoch: byte-identical, none
// beyond, and the device's cursor at n.
func checkEpochHolds(t *testing.T, lr *ledgerRig, st *offline.Store, epoch, n uint64) {
	t.Helper()
	if cur, err := st.SyncCursor(); err != nil || cur.Seq != n {
		t.Fatalf("epoch %d: device cursor %d %v, want %d", epoch, cur.Seq, err, n)
	}
	es, err := st.Records(0, int(n))
	if err != nil || uint64(len(es)) != n {
		t.Fatalf("epoch %d: %d records %v", epoch, len(es), err)
	}
	for _, e := range es {
		got, err := lr.ledger().EpochRecord(deviceID, epoch, e.Record.Seq)
		if err != nil || string(got) != string(e.Raw) {
			t.Fatalf("epoch %d record %d: %v, not the store's", epoch, e.Record.Seq, err)
		}
	}
	if _, err := lr.ledger().EpochRecord(deviceID, epoch, n+1); err == nil {
		t.Fatalf("epoch %d: the ledger holds a record %d beyond the store", epoch, n+1)
	}
}
