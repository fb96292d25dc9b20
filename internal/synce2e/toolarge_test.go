package synce2e

import (
	"context"
	"testing"

	"github.com/openykt/yktd/ledger"
)

// TestBatchTooLargeShrinks: a ledger whose batch cap is below the device's
// batch size answers too-large; the client halves its batches until they
// fit instead of resending the same refused batch for ever.
func TestBatchTooLargeShrinks(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{MaxBatchRecords: 100})
	d := newDevice(t, lr, devOpts{batch: 500})
	d.enrol(t, lr)
	d.journal(t, 450)
	res, err := d.client.SyncOnce(ctx)
	if err != nil {
		t.Fatalf("SyncOnce = %+v, %v", res, err)
	}
	if res.Cursor != 450 || res.Records != 450 {
		t.Fatalf("SyncOnce = %+v, want everything through 450", res)
	}
	checkLedgerHolds(t, lr, d)
}
