package synce2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

func gapAnswer(t *testing.T, expected uint64) func(answer) answer {
	b, err := protocol.EncodeError(&protocol.Error{Code: protocol.CodeGap, Message: "gap", Expected: expected})
	if err != nil {
		t.Fatal(err)
	}
	return func(answer) answer {
		return answer{status: http.StatusConflict, header: http.Header{"Content-Type": {ledger.ContentTypeError}}, body: b}
	}
}

// TestGapResumes: the ledger committed a batch but its ack was replaced by
// a gap answer naming a sequence inside that batch (the ledger holds more
// than the device's cursor). The client resumes there, linking to the
// record before, and the cursor moves only on the ack that follows.
func TestGapResumes(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 20})
	d.enrol(t, lr)
	tp := newTamperer(lr)
	d.journal(t, 20)
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	d.journal(t, 30) // 21..50
	calls := 0
	gap := gapAnswer(t, 31)
	tp.set("/v1/batches", func(a answer) answer {
		calls++
		if calls == 1 {
			return gap(a) // the ledger did commit 21..40
		}
		return a
	})
	res, err := d.client.SyncOnce(ctx)
	tp.set("/v1/batches", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cursor != 50 || res.Records != 30 {
		t.Fatalf("SyncOnce = %+v, want cursor 50 and 30 records", res)
	}
	checkLedgerHolds(t, lr, d)
}

// TestGapBeyondHeadStops: a gap answer asking for records the device never
// wrote stops uploading (ErrLedgerAhead) without moving the cursor.
func TestGapBeyondHeadStops(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 20})
	d.enrol(t, lr)
	tp := newTamperer(lr)
	d.journal(t, 10)
	tp.set("/v1/batches", gapAnswer(t, 500))
	_, err := d.client.SyncOnce(ctx)
	if !errors.Is(err, syncclient.ErrLedgerAhead) || !syncclient.IsFatal(err) {
		t.Fatalf("SyncOnce = %v, want a fatal ErrLedgerAhead", err)
	}
	if cur, _ := d.store.SyncCursor(); cur.Seq != 0 {
		t.Fatalf("cursor moved to %d", cur.Seq)
	}
	// Gap after gap (a ledger that never takes what it asks for) is an
	// error, not a loop.
	tp.set("/v1/batches", gapAnswer(t, 5))
	if _, err := d.client.SyncOnce(ctx); !errors.Is(err, protocol.ErrGap) || syncclient.IsFatal(err) {
		t.Fatalf("SyncOnce = %v, want a gap error", err)
	}
}

// TestGapBackToPurgedCursor: after a gap answer inside the journal, the
// ledger answers a gap at the acknowledged cursor + 1. The record at the
// cursor was purged (acknowledged, past retention): the client links to
// the cursor's hash instead of reading that record, and finishes; it does
// not report the store as corrupt.
func TestGapBackToPurgedCursor(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 20})
	d.enrol(t, lr)
	tp := newTamperer(lr)
	d.journal(t, 20)
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	d.clock.Advance(91 * 24 * time.Hour)
	if n, err := d.store.Purge(); err != nil || n != 20 {
		t.Fatalf("Purge = %d, %v; want 20", n, err)
	}
	d.journal(t, 30) // 21..50
	calls := 0
	tp.set("/v1/batches", func(a answer) answer {
		switch calls++; calls {
		case 1:
			return gapAnswer(t, 31)(a)
		case 2:
			return gapAnswer(t, 21)(a)
		}
		return a
	})
	res, err := d.client.SyncOnce(ctx)
	tp.set("/v1/batches", nil)
	if err != nil || res.Cursor != 50 {
		t.Fatalf("SyncOnce = %+v, %v; want cursor 50", res, err)
	}
	if cur, _ := d.store.SyncCursor(); cur.Seq != 50 {
		t.Fatalf("cursor %d, want 50", cur.Seq)
	}
}
