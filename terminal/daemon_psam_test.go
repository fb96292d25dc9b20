package terminal_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/policy"
)

// testPSAM is the terminal id of the software SAM every daemon rig runs on
// (sam.TestKeys).
var testPSAM = sam.TestKeys().TerminalID

// psamClient is a sync client of device dev on store, at tl, enrolled or
// to be enrolled with the PSAM terminal id tid.
func psamClient(t *testing.T, tl *ledgertest.Ledger, dev *ledgertest.Device, store *offline.Store, tid []byte, keys protocol.KeySet) *syncclient.Client {
	t.Helper()
	src := store.SyncSource()
	c, err := syncclient.New(syncclient.Options{Ledger: tl.URL, DeviceID: dev.ID, Signer: dev.Signer, LedgerKeys: keys,
		Kind: protocol.DevicePOS, TerminalID: tid, Journal: src, Status: src, Rules: src, Interval: 50 * time.Millisecond,
		BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hasHold(h terminal.Health, c policy.Code) bool { return slices.Contains(holdCodes(h), string(c)) }

// awaitRecord waits until the store holds a record of kind and returns
// the records of that kind.
func awaitRecord(t *testing.T, s *offline.Store, kind protocol.Kind) []protocol.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if rs := kindsOf(t, s, kind); len(rs) > 0 {
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %v record journaled", kind)
	return nil
}

// TestDaemonPSAMMovedIsRefusedMoney (issue 16): a PSAM enrolled with a
// first device and then with a second one (the real daemon on the
// simulator, enrolled over HTTP by its sync client) holds the second at
// the ledger: its enrolment answer says held, a sale is refused with the
// hold's code and message, the hold is journaled (psam-held) and the
// ledger holds a psam-moved alert; gate passes are not what it stops.
// After the operator's rebind the ledger serves it again and it sells.
func TestDaemonPSAMMovedIsRefusedMoney(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	tl.EnrolPSAM(t, "pos-first", protocol.DevicePOS, testPSAM[:])
	if _, err := tl.SetStatus(sim.DemoLostNo, ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	dev := ledgertest.NewDevice(t, "pos-daemon-01")
	tok, _, err := tl.NewToken(dev.ID, "pos")
	if err != nil {
		t.Fatal(err)
	}
	clock := offlinetest.NewClock(time.Now())
	store := openDaemonStore(t, filepath.Join(t.TempDir(), "yktd.db"), clock)
	client := psamClient(t, tl, dev, store, testPSAM[:], nil)
	resp, err := client.Enrol(context.Background(), tok)
	if err != nil || resp.Held != protocol.CodePSAMBinding {
		t.Fatalf("enrolment with the first device's PSAM: held %v, %v", resp.Held, err)
	}
	if st, err := store.PSAMState(); err != nil || !st.LedgerHeld {
		t.Fatalf("the ledger's hold is not in the store: %+v %v", st, err)
	}
	cfg := syncedConfig()
	cfg.Sync.Ledger = tl.URL
	r := startDaemon(t, cfg, store, clock, client)
	h := r.awaitHealth("held for its PSAM", func(h terminal.Health) bool { return hasHold(h, policy.CodePSAMBinding) })
	if h.Working || h.PSAM == nil || !h.PSAM.LedgerHeld || h.PSAM.Swapped || h.Holds[0].Code != string(policy.CodePSAMBinding) || h.Holds[0].Gate {
		t.Fatalf("health of a device held for its PSAM: %+v %+v", h, h.PSAM)
	}
	card := demoCard(t, "student", "", 0)
	rec := r.tap(card)
	if rec.Outcome != "refused" || rec.Code != string(policy.CodePSAMBinding) || balance(card) != 10000 {
		t.Fatalf("sale on a device holding a moved PSAM: %+v (balance %d)", rec, balance(card))
	}
	if m := lastOf(r.disp.Shown()); m.ZH != "终端与PSAM绑定不符 暂停收款 请联系管理员" || m.EN != "PSAM not bound to this device: no sales, call the operator" {
		t.Fatalf("display %v", m)
	}
	held := awaitRecord(t, store, protocol.KindPSAMHeld)
	if len(held) != 1 || held[0].Reason != offline.ReasonPSAMLedger || !bytes.Equal(held[0].TerminalID, testPSAM[:]) {
		t.Fatalf("psam-held records %+v", held)
	}
	alerts, err := tl.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	var moved []ledger.Alert
	for _, a := range alerts {
		if a.Kind == ledger.AlertPSAMMoved {
			moved = append(moved, a)
		}
	}
	if len(moved) != 1 || moved[0].Device != "pos-daemon-01" || moved[0].OtherDevice != "pos-first" {
		t.Fatalf("alerts %+v, want one psam-moved", alerts)
	}
	// Its journal still reaches the ledger (the refusal, the psam-held).
	head := r.d.Health().Journal.Head
	r.awaitHealth("the journal uploaded while held", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })

	if _, err := tl.Rebind("pos-daemon-01", nil); err != nil {
		t.Fatal(err)
	}
	r.awaitHealth("working after the rebind", func(h terminal.Health) bool { return h.Working && h.StatusList.Version > 0 })
	released := awaitRecord(t, store, protocol.KindPSAMReleased)
	if len(released) != 1 || !bytes.Equal(released[0].TerminalID, testPSAM[:]) {
		t.Fatalf("psam-released records %+v", released)
	}
	r.clock.Advance(time.Minute)
	if rec := r.tap(card); rec.Outcome != "paid" || balance(card) != 10000-1250 {
		t.Fatalf("sale after the rebind: %+v (balance %d)", rec, balance(card))
	}
	if d, err := tl.Device("pos-first"); err != nil || d.PSAM.Terminal != nil || d.PSAM.LostTo != "pos-daemon-01" {
		t.Fatalf("the first device keeps the binding: %+v %v", d.PSAM, err)
	}
}

// TestDaemonPSAMSwappedHolds (issue 16): a PSAM that is not the one the
// device is bound to holds it at start, without the ledger: no sale, the
// hold journaled (psam-held, psam-swapped, the PSAM's id) and uploaded, and
// the ledger, told so, holds it too; the operator's rebind to the PSAM
// seen makes that PSAM the device's own and it sells again, the ledger
// taking its next records without a new hold.
func TestDaemonPSAMSwappedHolds(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	original := []byte{0, 0, 0, 0, 0x0a, 0x01}
	dev, resp := tl.EnrolPSAM(t, "pos-daemon-01", protocol.DevicePOS, original)
	if resp.Held != 0 {
		t.Fatalf("enrolment held: %v", resp.Held)
	}
	clock := offlinetest.NewClock(time.Now())
	store := openDaemonStore(t, filepath.Join(t.TempDir(), "yktd.db"), clock)
	if err := store.BindPSAM(original); err != nil { // the PSAM it enrolled with
		t.Fatal(err)
	}
	client := psamClient(t, tl, dev, store, nil, tl.Keys())
	cfg := syncedConfig()
	cfg.Sync.Ledger = tl.URL
	r := startDaemon(t, cfg, store, clock, client) // on the test keys' PSAM, not the original one
	h := r.awaitHealth("held for a swapped PSAM", func(h terminal.Health) bool { return hasHold(h, policy.CodePSAMBinding) })
	if h.PSAM == nil || !h.PSAM.Swapped || h.PSAM.Bound != "000000000a01" || h.PSAM.Present != "0000000000f1" ||
		!strings.Contains(h.Holds[0].Detail, "0000000000f1") {
		t.Fatalf("health %+v %+v", h.Holds, h.PSAM)
	}
	held := awaitRecord(t, store, protocol.KindPSAMHeld)
	if len(held) != 1 || held[0].Reason != offline.ReasonPSAMSwapped || !bytes.Equal(held[0].TerminalID, testPSAM[:]) {
		t.Fatalf("psam-held records %+v", held)
	}
	r.awaitHealth("the ledger holds it too", func(h terminal.Health) bool { return h.PSAM != nil && h.PSAM.LedgerHeld })
	card := demoCard(t, "student", "", 0)
	if rec := r.tap(card); rec.Outcome != "refused" || rec.Code != string(policy.CodePSAMBinding) || balance(card) != 10000 {
		t.Fatalf("sale with a swapped PSAM: %+v", rec)
	}
	if d, err := tl.Device("pos-daemon-01"); err != nil || d.HeldCode() != protocol.CodePSAMBinding || !bytes.Equal(d.PSAM.Seen, testPSAM[:]) {
		t.Fatalf("the ledger's device: %+v %v", d.PSAM, err)
	}

	if _, err := tl.Rebind("pos-daemon-01", nil); err != nil {
		t.Fatal(err)
	}
	h = r.awaitHealth("working after the rebind", func(h terminal.Health) bool { return h.Working && h.StatusList.Version > 0 })
	if h.PSAM.Bound != "0000000000f1" || h.PSAM.Swapped || h.PSAM.LedgerHeld {
		t.Fatalf("PSAM after the rebind %+v", h.PSAM)
	}
	r.clock.Advance(time.Minute)
	if rec := r.tap(card); rec.Outcome != "paid" {
		t.Fatalf("sale after the rebind: %+v", rec)
	}
	head := r.d.Health().Journal.Head
	r.awaitHealth("the sale uploaded", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })
	if d, err := tl.Device("pos-daemon-01"); err != nil || d.HeldCode() != 0 || !bytes.Equal(d.PSAM.Terminal, testPSAM[:]) {
		t.Fatalf("the ledger's device after the sale: %+v %v", d.PSAM, err)
	}
	if h := r.d.Health(); !h.Working {
		t.Fatalf("held again after the sale: %+v", h.Holds)
	}
}
