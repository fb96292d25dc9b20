package synce2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

// TestLedgerBehindStops: a ledger restored from an old backup wants
// records the device holds acknowledged. The client stops with
// ErrLedgerBehind and never moves its cursor back.
func TestLedgerBehindStops(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 50})
	d.enrol(t, lr)
	d.journal(t, 50)
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	old := lr.backup()
	d.journal(t, 50)
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	lr.restore(old)
	d.journal(t, 10)
	before, _ := d.store.SyncCursor()
	_, err := d.client.SyncOnce(ctx)
	if !errors.Is(err, syncclient.ErrLedgerBehind) || !syncclient.IsFatal(err) || !errors.Is(err, protocol.ErrGap) {
		t.Fatalf("SyncOnce against a ledger behind = %v, want a fatal ErrLedgerBehind", err)
	}
	if after, _ := d.store.SyncCursor(); after != before || after.Seq != 100 {
		t.Fatalf("cursor moved from %d to %d", before.Seq, after.Seq)
	}
	if dev, _ := lr.ledger().Device(deviceID); dev.HighWater != 50 {
		t.Fatalf("ledger high-water %d, want 50 (nothing resent)", dev.HighWater)
	}
}

// TestForkStops: a device whose store was replaced (same id, other
// records) offers records the ledger holds with different bytes: the
// ledger refuses and records an alert, the client stops loudly, and the
// ledger's records are not overwritten.
func TestForkStops(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 50})
	resp := d.enrol(t, lr)
	d.journal(t, 30)
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	held, _ := lr.ledger().Record(deviceID, 5)

	// A fresh store under the same id, same key, other records.
	clk := offlinetest.NewClock(d.clock.Now().Add(1))
	s2, _ := offlinetest.Open(t, offline.Options{DeviceID: deviceID, Clock: clk})
	src := s2.SyncSource()
	c2, err := syncclient.New(syncclient.Options{
		Ledger: lr.srv.URL, DeviceID: deviceID, Signer: d.signer,
		LedgerKeys: protocol.NewKeys(protocol.PublicKey{KeyID: resp.LedgerKeyID, Alg: resp.LedgerAlg, Key: resp.LedgerKey}),
		Journal:    src, Status: src, Rules: src, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if _, err := s2.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "tamper"}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(1)
	}
	_, err = c2.SyncOnce(ctx)
	if !errors.Is(err, protocol.ErrFork) || !syncclient.IsFatal(err) {
		t.Fatalf("SyncOnce of a forked journal = %v, want a fatal protocol.ErrFork", err)
	}
	if cur, _ := s2.SyncCursor(); cur.Seq != 0 {
		t.Fatalf("forked store's cursor moved to %d", cur.Seq)
	}
	if got, _ := lr.ledger().Record(deviceID, 5); string(got) != string(held) {
		t.Fatal("ledger record overwritten by the fork")
	}
	if alerts, _ := lr.ledger().Alerts(); len(alerts) != 1 {
		t.Fatalf("ledger alerts = %d, want 1", len(alerts))
	}
	// Run halts uploading for good but keeps the downloads going, so that
	// the forked gate still learns of lost cards.
	if _, err := lr.ledger().SetStatus("2024000077", ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	clk2 := stepClock{waits: make(chan time.Duration), release: make(chan time.Time)}
	c3, err := syncclient.New(syncclient.Options{
		Ledger: lr.srv.URL, DeviceID: deviceID, Signer: d.signer, LedgerKeys: c2.LedgerKeys(),
		Journal: src, Status: src, Rules: src, Logger: quiet(), Clock: clk2, Interval: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c3.Run(rctx) }()
	select {
	case w := <-clk2.waits:
		if w != time.Minute {
			t.Fatalf("wait after a halted round = %v, want the interval (downloads worked)", w)
		}
	case err := <-done:
		t.Fatalf("Run ended on a fork: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not finish a round")
	}
	if h := c3.Halted(); !errors.Is(h, protocol.ErrFork) {
		t.Fatalf("Halted = %v, want the fork", h)
	}
	if _, found, _ := s2.Lookup("2024000077"); !found {
		t.Fatal("status list not applied on the forked device")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}
