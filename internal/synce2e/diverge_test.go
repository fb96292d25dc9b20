package synce2e

import (
	"context"
	"testing"

	"github.com/openykt/yktd/ledger"
)

// TestStatusDivergedRecovers: a ledger restored from a backup issues the
// status versions the device already holds again, with other contents. The
// delta from the version held then does not give the signed digest (the
// store refuses it, nothing applied); the client must not ask for that same
// delta for ever — a terminal would never learn of another lost card — but
// fall back to a snapshot, which replaces the diverged list.
func TestStatusDivergedRecovers(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{})
	d.enrol(t, lr)
	set := func(card string, r uint8) {
		t.Helper()
		if _, err := lr.ledger().SetStatus(card, r); err != nil {
			t.Fatal(err)
		}
	}
	set("2024000001", ledger.ReasonLost) // v2 (v1 is a new ledger's empty list)
	if res, err := d.client.PullStatus(ctx); err != nil || res.Version != 2 {
		t.Fatalf("PullStatus = %+v, %v", res, err)
	}
	old := lr.backup()
	set("2024000002", ledger.ReasonLost) // v3, held by the device only
	if res, err := d.client.PullStatus(ctx); err != nil || res.Version != 3 {
		t.Fatalf("PullStatus = %+v, %v", res, err)
	}
	lr.restore(old)                        // the ledger is back at v2
	set("2024000003", ledger.ReasonFrozen) // another v3
	set("2024000004", ledger.ReasonLost)   // v4
	for i := 0; i < 2; i++ {
		res, err := d.client.PullStatus(ctx)
		if err != nil {
			t.Fatalf("PullStatus after the ledger's restore (round %d) = %+v, %v; want the diverged list replaced", i, res, err)
		}
	}
	v, digest, err := lr.ledger().StatusVersion()
	if err != nil {
		t.Fatal(err)
	}
	si, err := d.store.StatusInfo()
	if err != nil {
		t.Fatal(err)
	}
	if si.Version != v || si.Digest != digest || si.Count != 3 {
		t.Fatalf("device holds version %d (%d cards, digest %x), ledger version %d digest %x", si.Version, si.Count, si.Digest[:4], v, digest[:4])
	}
}
