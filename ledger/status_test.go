package ledger_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// fetchStatus asks the ledger over HTTP as the device holding have.
func fetchStatus(t *testing.T, tl *ledgertest.Ledger, d *ledgertest.Device, have uint64) (*protocol.StatusSnapshot, *protocol.StatusDelta, int) {
	t.Helper()
	status, body := tl.Post(t, "/v1/status", d.Seal(t, &protocol.StatusRequest{DeviceID: d.ID, Have: have}))
	if status == http.StatusNoContent {
		return nil, nil, status
	}
	if status != http.StatusOK {
		t.Fatalf("status: HTTP %d %v", status, ledgertest.ErrorOf(body))
	}
	snap, delta, _, err := protocol.OpenStatus(tl.Keys(), body, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return snap, delta, status
}

// apply applies a snapshot or delta to a terminal's offline store, which
// checks the ledger's digest against its own.
func apply(t *testing.T, st *offline.Store, snap *protocol.StatusSnapshot, delta *protocol.StatusDelta) {
	t.Helper()
	if snap != nil {
		s := offline.StatusSnapshot{Version: snap.Version, Digest: snap.Digest}
		for _, e := range snap.Entries {
			s.Entries = append(s.Entries, offline.StatusEntry{CardNo: e.Card, Reason: offline.Reason(e.Reason), Since: time.Unix(e.Since, 0)})
		}
		if err := st.ApplySnapshot(s); err != nil {
			t.Fatal(err)
		}
		return
	}
	d := offline.StatusDelta{From: delta.From, To: delta.To, Digest: delta.Digest}
	for _, c := range delta.Changes {
		d.Changes = append(d.Changes, offline.StatusChange{CardNo: c.Card, Reason: offline.Reason(c.Reason), Since: time.Unix(c.Since, 0), Remove: c.Reason == 0})
	}
	if err := st.ApplyDelta(d); err != nil {
		t.Fatal(err)
	}
}

func TestStatusDeltasAndSnapshots(t *testing.T) {
	c := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Now: c.Now, Ledger: ledger.Options{StatusHistory: 3}})
	dev := tl.Enrol(t, "gate-1", protocol.DeviceGate)
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: "gate-1"})

	if snap, _, _ := fetchStatus(t, tl, dev, 0); snap == nil || snap.Version != 1 || len(snap.Entries) != 0 {
		t.Fatalf("no card listed yet: %+v, want the empty version 1", snap)
	}
	steps := []func() (uint64, error){
		func() (uint64, error) { return tl.SetStatus("A001", ledger.ReasonLost) },
		func() (uint64, error) { return tl.SetStatus("B002", ledger.ReasonFrozen) },
		func() (uint64, error) { return tl.SetStatus("C003", ledger.ReasonDormant) },
		func() (uint64, error) { return tl.RemoveStatus("A001") },
		func() (uint64, error) { return tl.SetStatus("D004", ledger.ReasonLost) },
		func() (uint64, error) { return tl.SetStatus("B002", ledger.ReasonCancelled) },
	}
	for i, f := range steps {
		c.Advance(time.Hour)
		v, err := f()
		if err != nil || v != uint64(i+2) {
			t.Fatalf("step %d: version %d, %v", i, v, err)
		}
		if i == 1 { // the terminal takes version 3 as a snapshot
			snap, delta, _ := fetchStatus(t, tl, dev, 0)
			if snap == nil || delta != nil || snap.Version != 3 || len(snap.Entries) != 2 {
				t.Fatalf("snapshot at 3: %+v %+v", snap, delta)
			}
			apply(t, st, snap, nil)
		}
	}
	if _, err := tl.RemoveStatus("Z999"); !isNotFound(err) {
		t.Errorf("removing an unlisted card: %v", err)
	}
	// 3 → 7: a delta merging four versions, last change per card wins.
	snap, delta, _ := fetchStatus(t, tl, dev, 3)
	if snap != nil || delta == nil || delta.From != 3 || delta.To != 7 {
		t.Fatalf("delta: %+v %+v", snap, delta)
	}
	want := []protocol.StatusItem{{Card: "A001"}, {Card: "B002", Reason: ledger.ReasonCancelled}, {Card: "C003", Reason: ledger.ReasonDormant}, {Card: "D004", Reason: ledger.ReasonLost}}
	if len(delta.Changes) != len(want) {
		t.Fatalf("changes %+v", delta.Changes)
	}
	for i, w := range want {
		if g := delta.Changes[i]; g.Card != w.Card || g.Reason != w.Reason {
			t.Errorf("change %d: %+v, want %+v", i, g, w)
		}
	}
	apply(t, st, nil, delta) // the store checks the digest
	info, err := st.StatusInfo()
	if err != nil || info.Version != 7 || info.Count != 3 || !bytes.Equal(info.Digest[:], delta.Digest) {
		t.Fatalf("terminal after the delta: %+v %v", info, err)
	}
	if n, err := tl.StatusCount(); err != nil || n != 3 {
		t.Errorf("status count %d %v", n, err)
	}
	// Up to date: nothing to send.
	if _, _, code := fetchStatus(t, tl, dev, 7); code != http.StatusNoContent {
		t.Errorf("current: HTTP %d", code)
	}
	// Too far behind for the kept history (3 versions): a snapshot.
	if snap, _, _ := fetchStatus(t, tl, dev, 2); snap == nil || snap.Version != 7 || len(snap.Entries) != 3 {
		t.Errorf("from 1: %+v", snap)
	}
	// A version the ledger never issued.
	status, body := tl.Post(t, "/v1/status", dev.Seal(t, &protocol.StatusRequest{DeviceID: dev.ID, Have: 99}))
	if status != http.StatusConflict {
		t.Errorf("HTTP %d", status)
	}
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeStaleVersion)
}

func TestStatusSnapshotAfterManyChanges(t *testing.T) {
	c := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Now: c.Now, Ledger: ledger.Options{SnapshotAfter: 10}})
	var changes []protocol.StatusEntry
	for i := range 30 {
		changes = append(changes, protocol.StatusEntry{CardNo: "C" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Reason: ledger.ReasonLost, Since: 1})
	}
	if _, err := tl.ChangeStatus(changes[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.ChangeStatus(changes[1:]); err != nil {
		t.Fatal(err)
	}
	ans, err := tl.Status(2)
	if err != nil || !ans.Snapshot || ans.Version != 3 || len(ans.Entries) != 30 {
		t.Fatalf("answer %+v %v", ans.Snapshot, err)
	}
	if ans.Digest != protocol.StatusDigest(changes) {
		t.Error("snapshot digest is not the protocol's digest of the list")
	}
}

// TestFreshLedgerSendsAnEmptyList: a new ledger whose campus has no card
// listed still signs a status list (version 1, empty), so that devices,
// which take no money until they hold one, can start working; an existing
// ledger still at version 0 gets it when it opens.
func TestFreshLedgerSendsAnEmptyList(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	snap, delta, code := fetchStatus(t, tl, dev, 0)
	if code != http.StatusOK || snap == nil || delta != nil || snap.Version != 1 || len(snap.Entries) != 0 {
		t.Fatalf("fresh ledger: HTTP %d snapshot %+v delta %+v, want an empty signed version 1", code, snap, delta)
	}
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: "pos-1"})
	apply(t, st, snap, nil) // the store checks the digest of the empty list
	if _, _, code := fetchStatus(t, tl, dev, 1); code != http.StatusNoContent {
		t.Fatalf("holding version 1: HTTP %d, want 204", code)
	}
	// The first listing is version 2, a delta from the empty list.
	if v, err := tl.SetStatus("A001", ledger.ReasonLost); err != nil || v != 2 {
		t.Fatalf("first listing: version %d, %v", v, err)
	}
	snap, delta, _ = fetchStatus(t, tl, dev, 1)
	if snap != nil || delta == nil || delta.From != 1 || delta.To != 2 || len(delta.Changes) != 1 {
		t.Fatalf("delta 1→2: %+v %+v", snap, delta)
	}
	apply(t, st, nil, delta)
}
