package synce2e

import (
	"context"
	"errors"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

// TestRevokedDeviceUploadsForCollection (issue 10.3): after `ledgerd
// device revoke`, the records the device made before the revocation and
// after it still reach the ledger through the real sync client and are
// acknowledged; its status and rules pulls answer revoked (fatal), which
// is how the device learns it.
func TestRevokedDeviceUploadsForCollection(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 4})
	d.enrol(t, lr)
	d.journal(t, 10)
	if res, err := d.client.SyncOnce(ctx); err != nil || res.Cursor != 10 {
		t.Fatalf("first upload: %+v %v", res, err)
	}
	d.journal(t, 5) // made before the revocation, not uploaded yet
	if err := lr.ledger().Revoke(deviceID); err != nil {
		t.Fatal(err)
	}
	d.journal(t, 2) // made after it
	if _, err := d.store.Append(protocol.Record{Kind: protocol.KindDeviceRevoked, Reason: "revoked"}); err != nil {
		t.Fatal(err)
	}
	res, err := d.client.SyncOnce(ctx)
	if err != nil || res.Cursor != 18 || res.Records != 8 {
		t.Fatalf("upload after the revocation: %+v %v, want records 11..18 acknowledged", res, err)
	}
	checkLedgerHolds(t, lr, d)
	for _, pull := range []func(context.Context) (syncclient.PullResult, error){d.client.PullStatus, d.client.PullRules} {
		// Revoked, not fatal: the client goes on uploading for collection.
		if _, err := pull(ctx); !errors.Is(err, protocol.ErrRevoked) || !errors.Is(err, syncclient.ErrDeviceRevoked) || syncclient.IsFatal(err) {
			t.Errorf("pull of a revoked device: %v, want revoked (not fatal: uploads go on)", err)
		}
	}
}
