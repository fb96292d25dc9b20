package terminal_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/policy"
)

// ledgerDaemon is a daemon syncing with a real ledger on loopback.
type ledgerDaemon struct {
	*daemonRig
	tl *ledgertest.Ledger
}

// startLedgerDaemon enrols the rig's device with tl, lists the demo lost
// card there and runs the daemon with the sync client until it holds the
// ledger's status list.
func startLedgerDaemon(t *testing.T) *ledgerDaemon {
	t.Helper()
	return startLedgerDaemonOn(t, ledgertest.Start(t, ledgertest.Options{}))
}

// startLedgerDaemonOn is startLedgerDaemon with the ledger tl.
func startLedgerDaemonOn(t *testing.T, tl *ledgertest.Ledger) *ledgerDaemon {
	t.Helper()
	if _, err := tl.SetStatus(sim.DemoLostNo, ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	dev := tl.Enrol(t, "pos-daemon-01", protocol.DevicePOS)
	clock := offlinetest.NewClock(time.Now())
	store := openDaemonStore(t, filepath.Join(t.TempDir(), "yktd.db"), clock)
	src := store.SyncSource()
	client, err := syncclient.New(syncclient.Options{Ledger: tl.URL, DeviceID: dev.ID, Signer: dev.Signer, LedgerKeys: tl.Keys(),
		Journal: src, Status: src, Rules: src, Interval: 50 * time.Millisecond, BackoffBase: 50 * time.Millisecond,
		BackoffMax: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := syncedConfig()
	cfg.Sync.Ledger = tl.URL
	r := startDaemon(t, cfg, store, clock, client)
	r.awaitHealth("working with the ledger's list", func(h terminal.Health) bool { return h.Working && h.StatusList.Version > 0 })
	return &ledgerDaemon{daemonRig: r, tl: tl}
}

// kindsOf returns the store's records of kind.
func kindsOf(t *testing.T, s *offline.Store, kind protocol.Kind) []protocol.Record {
	t.Helper()
	h, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.Records(0, int(h.Seq))
	if err != nil {
		t.Fatal(err)
	}
	var out []protocol.Record
	for _, e := range es {
		if e.Record.Kind == kind {
			out = append(out, e.Record)
		}
	}
	return out
}

// TestDaemonRevokedAtTheLedger: after `ledgerd device revoke` the device
// stops taking money at once: the next sale is refused with the revoked
// message, the revocation is journaled once, and /v1/health says so.
func TestDaemonRevokedAtTheLedger(t *testing.T) {
	r := startLedgerDaemon(t)
	card := demoCard(t, "student", "", 0)
	if rec := r.tap(card); rec.Outcome != "paid" {
		t.Fatalf("sale before the revocation: %+v", rec)
	}
	head := r.d.Health().Journal.Head
	r.awaitHealth("the sale uploaded", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })
	// Made just before the revocation, most likely uploaded after it.
	if rec := r.tap(demoCard(t, "lost", "", 0)); rec.Code != string(policy.CodeLost) {
		t.Fatalf("lost card: %+v", rec)
	}
	if err := r.tl.Revoke("pos-daemon-01"); err != nil {
		t.Fatal(err)
	}
	h := r.awaitHealth("revoked", func(h terminal.Health) bool { return slices.Contains(holdCodes(h), string(policy.CodeDeviceRevoked)) })
	if h.Working || !h.Sync.Revoked || h.Sync.RevokedAt.IsZero() || !h.Holds[0].Gate {
		t.Fatalf("health of a revoked device %+v", h)
	}
	r.clock.Advance(time.Minute)
	rec := r.tap(card)
	if rec.Outcome != "refused" || rec.Code != string(policy.CodeDeviceRevoked) || balance(card) != 10000-1250 {
		t.Fatalf("sale after the revocation: %+v (balance %d)", rec, balance(card))
	}
	if m := lastOf(r.disp.Shown()); m.ZH != "设备已停用 请联系技术员" || m.EN != "Device revoked, call the technician" {
		t.Fatalf("display %v", m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(kindsOf(t, r.store, protocol.KindDeviceRevoked)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	revoked := kindsOf(t, r.store, protocol.KindDeviceRevoked)
	if len(revoked) != 1 {
		t.Fatalf("%d device-revoked records, want 1", len(revoked))
	}
	// Its journal still reaches the ledger, for collection: the lost card's
	// refusal made before the revocation, the refused sale and the
	// revocation record made after it.
	head = r.d.Health().Journal.Head
	r.awaitHealth("the journal collected after the revocation", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })
	for _, rc := range append(kindsOf(t, r.store, protocol.KindPurchaseRefused), revoked...) {
		raw, err := r.tl.Record("pos-daemon-01", rc.Seq)
		if err != nil {
			t.Fatalf("the ledger lacks record %d (%s) made after the revocation: %v", rc.Seq, rc.Kind, err)
		}
		if got, err := protocol.DecodeRecord(raw); err != nil || got.Kind != rc.Kind {
			t.Fatalf("the ledger's record %d: %+v, %v", rc.Seq, got, err)
		}
	}
	rep, err := r.tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	if d := rep.Devices[0]; d.Revoked.IsZero() || d.Stats.CollectedAfterRevoke == 0 || d.Stats.RevokedNoticed.IsZero() {
		t.Fatalf("the ledger's report of the revoked device: %+v", d)
	}
}

// TestRefusalReachesTheLedger: a lost card shown at the canteen is
// refused and journaled, and the record reaches the ledger's journal.
func TestRefusalReachesTheLedger(t *testing.T) {
	r := startLedgerDaemon(t)
	if rec := r.tap(demoCard(t, "lost", "", 0)); rec.Code != string(policy.CodeLost) {
		t.Fatalf("lost card: %+v", rec)
	}
	refused := kindsOf(t, r.store, protocol.KindPurchaseRefused)
	if len(refused) != 1 {
		t.Fatalf("%d refusals journaled, want 1", len(refused))
	}
	seq := refused[0].Seq
	r.awaitHealth("the refusal uploaded", func(h terminal.Health) bool { return h.Journal.AckedThrough >= seq })
	raw, err := r.tl.Record("pos-daemon-01", seq)
	if err != nil {
		t.Fatalf("the ledger lacks record %d: %v", seq, err)
	}
	rec, err := protocol.DecodeRecord(raw)
	if err != nil || rec.Kind != protocol.KindPurchaseRefused || rec.CardNo != sim.DemoLostNo || rec.Reason != string(policy.CodeLost) ||
		rec.Amount != 1250 || rec.BalanceBefore != 8000 {
		t.Fatalf("the ledger's record %d: %+v, %v", seq, rec, err)
	}
	// The operator's report says where the lost card turned up.
	rep, err := r.tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Devices[0].Stats.Refusals[string(policy.CodeLost)]; n != 1 {
		t.Errorf("report: %d lost-card refusals of the device, want 1 (%v)", n, rep.Devices[0].Stats.Refusals)
	}
	if len(rep.Sightings) != 1 || rep.Sightings[0].CardNo != sim.DemoLostNo || rep.Sightings[0].Device != "pos-daemon-01" || rep.Sightings[0].Seq != seq {
		t.Errorf("report: lost cards presented %+v", rep.Sightings)
	}
}

// TestDaemonPOSClaimsBeforeSale: a POS enrolled at a ledger whose
// account for the student holds 50.00 paid online claims it on the tap
// (the system PIN, no PIN from the customer) and sells from the new
// balance; the next tap only sells.
func TestDaemonPOSClaimsBeforeSale(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	r := startLedgerDaemonOn(t, tl)
	card := demoCard(t, "student", "", 0)
	rec := r.tap(card)
	if rec.Outcome != "paid" || rec.Amount != 1250 || balance(card) != 10000+5000-1250 {
		t.Fatalf("claim then sale: %+v (card %d)", rec, balance(card))
	}
	r.clock.Advance(time.Minute) // past the repeat guard
	if rec := r.tap(card); rec.Outcome != "paid" || balance(card) != 10000+5000-2*1250 {
		t.Fatalf("second tap: %+v (card %d)", rec, balance(card))
	}
	rep, err := tl.ShowAccount("S2026001")
	if err != nil || rep.Account.Loadable != 0 || rep.Account.Authorised != 0 {
		t.Fatalf("account after the claim %+v %v", rep.Account, err)
	}
	if n := len(kindsOf(t, r.store, protocol.KindLoad)); n != 1 {
		t.Fatalf("%d load records, want 1", n)
	}
}
