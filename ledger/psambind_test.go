package ledger_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sam"
)

var (
	psamX = [6]byte{0, 0, 0, 0, 0x0a, 0x01}
	psamY = [6]byte{0, 0, 0, 0, 0x0b, 0x02}
)

// newTerminalPSAM is newTerminal with a software SAM whose terminal id is
// tid: the PSAM in that device.
func newTerminalPSAM(t *testing.T, deviceID, demo string, tid [6]byte) *terminal {
	t.Helper()
	oc := offlinetest.NewClock(time.Date(2026, 9, 14, 11, 45, 0, 0, time.UTC))
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: deviceID, Clock: oc})
	kf := sam.TestKeys()
	kf.TerminalID = tid
	s, err := sam.NewSoftware(kf)
	if err != nil {
		t.Fatal(err)
	}
	tm := &terminal{t: t, store: st, sam: s, clock: oc}
	tm.tap(demo)
	return tm
}

// alertsOf returns the alerts of kind.
func alertsOf(t *testing.T, tl *ledgertest.Ledger, kind string) []ledger.Alert {
	t.Helper()
	all, err := tl.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Alert
	for _, a := range all {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// served posts a status request of dev and returns the error answer (nil:
// served).
func served(t *testing.T, tl *ledgertest.Ledger, dev *ledgertest.Device) *protocol.Error {
	t.Helper()
	status, body := tl.Post(t, protocol.PathStatus, dev.Seal(t, &protocol.StatusRequest{DeviceID: dev.ID}))
	if status == http.StatusOK || status == http.StatusNoContent {
		return nil
	}
	return ledgertest.ErrorOf(body)
}

// TestPSAMMovedToSecondDevice (issue 16): a PSAM enrolled with device A
// and then with device B holds B at once (psam-moved); B gets no money
// from the ledger while its journal is still taken exactly once (each
// Ack says the hold) and its first sale with the moved PSAM is alerted;
// the operator's rebind moves the binding to B and lifts the hold, and A,
// having lost the binding, is held when it uses that PSAM; a record with
// yet another PSAM on B holds B again (psam-mismatch).
func TestPSAMMovedToSecondDevice(t *testing.T) {
	tl, _ := start(t)
	devA, respA := tl.EnrolPSAM(t, "pos-a", protocol.DevicePOS, psamX[:])
	if respA.Held != 0 {
		t.Fatalf("A held at enrolment: %v", respA.Held)
	}
	a := device(t, tl, "pos-a")
	if !bytes.Equal(a.PSAM.Terminal, psamX[:]) || a.PSAM.How != ledger.BoundAtEnrolment || a.HeldCode() != 0 {
		t.Fatalf("A's binding %+v", a.PSAM)
	}

	devB, respB := tl.EnrolPSAM(t, "pos-b", protocol.DevicePOS, psamX[:])
	if respB.Held != protocol.CodePSAMBinding {
		t.Fatalf("B enrolled with A's PSAM: held %v, want psam-binding", respB.Held)
	}
	b := device(t, tl, "pos-b")
	if b.PSAM.Terminal != nil || b.PSAM.HeldReason != ledger.AlertPSAMMoved || !bytes.Equal(b.PSAM.Seen, psamX[:]) {
		t.Fatalf("B's binding %+v", b.PSAM)
	}
	moved := alertsOf(t, tl, ledger.AlertPSAMMoved)
	if len(moved) != 1 || moved[0].Device != "pos-b" || moved[0].OtherDevice != "pos-a" || !bytes.Equal(moved[0].TerminalID, psamX[:]) {
		t.Fatalf("psam-moved alerts %+v", moved)
	}
	if s := moved[0].String(); !strings.Contains(s, "psam-moved: device pos-b") || !strings.Contains(s, "terminal 000000000a01") || !strings.Contains(s, "other device pos-a") {
		t.Errorf("alert line %q", s)
	}

	// No money for B: status, rules, pending, load authorisation, claims
	// answer psam-binding; a load's confirmation (money already on a
	// card) is not refused for the hold.
	tmB := newTerminalPSAM(t, "pos-b", "student", psamX)
	card := tmB.pub.CardNumber()
	for _, c := range []struct {
		path string
		m    protocol.Message
	}{
		{protocol.PathStatus, &protocol.StatusRequest{DeviceID: "pos-b"}},
		{protocol.PathRules, &protocol.RulesRequest{DeviceID: "pos-b"}},
		{protocol.PathPending, &protocol.PendingRequest{DeviceID: "pos-b", CardNo: card}},
		{protocol.PathClaims, &protocol.ClaimRequest{DeviceID: "pos-b", CardNo: card}},
		{protocol.PathLoadInit, &protocol.LoadInit{DeviceID: "pos-b", CardNo: card, CardSerial: make([]byte, 8), TerminalID: psamX[:],
			OnlineCounter: 1, Amount: 100, KeyIndex: 1, KeyVersion: 1, Random: make([]byte, 4), MAC1: make([]byte, 4)}},
	} {
		status, body := tl.Post(t, c.path, devB.Seal(t, c.m))
		if status != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want 403", c.path, status)
		}
		wantCode(t, ledgertest.ErrorOf(body), protocol.CodePSAMBinding)
	}
	_, body := tl.Post(t, protocol.PathLoadConfirm, devB.Seal(t, &protocol.LoadConfirm{DeviceID: "pos-b", LoadID: "1", CardNo: card, TAC: make([]byte, 4)}))
	if e := ledgertest.ErrorOf(body); e == nil || e.Code == protocol.CodePSAMBinding {
		t.Errorf("load confirm of a held device: %v, want refused for the load, not the hold", e)
	}
	if e := served(t, tl, devA); e != nil {
		t.Fatalf("A not served: %v", e)
	}

	// B sold offline with the moved PSAM: the records are taken, the ack
	// says held, one psam-mismatch alert for the first record with it.
	tmB.buy(800, false) // 1, 2
	ack, e := upload(t, tl, devB, tmB.batch(1, 1, 2))
	if e != nil || ack.AckedThrough != 2 || ack.Held != protocol.CodePSAMBinding {
		t.Fatalf("B's sale: %+v %v, want acknowledged and held", ack, e)
	}
	for seq := uint64(1); seq <= 2; seq++ {
		if raw, err := tl.Record("pos-b", seq); err != nil || !bytes.Equal(raw, tmB.entries(seq, seq)[0].Raw) {
			t.Fatalf("B's record %d not held: %v", seq, err)
		}
	}
	mm := alertsOf(t, tl, ledger.AlertPSAMMismatch)
	if len(mm) != 1 || mm[0].Device != "pos-b" || mm[0].Seq != 1 || !bytes.Equal(mm[0].TerminalID, psamX[:]) || mm[0].BoundTerminalID != nil {
		t.Fatalf("psam-mismatch alerts %+v", mm)
	}
	tmB.buy(300, false) // 3, 4
	if ack, e := upload(t, tl, devB, tmB.batch(2, 3, 4)); e != nil || ack.Held != protocol.CodePSAMBinding {
		t.Fatalf("B's second sale: %+v %v", ack, e)
	}
	if n := len(alertsOf(t, tl, ledger.AlertPSAMMismatch)); n != 1 {
		t.Errorf("%d psam-mismatch alerts after a second sale with the same PSAM, want 1 (once per id)", n)
	}
	if d := device(t, tl, "pos-b"); d.Stats.Records != 4 || d.Stats.DebitCount != 2 || d.PSAM.Mismatches != 4 {
		t.Errorf("B's stats %+v, binding %+v", d.Stats, d.PSAM)
	}
	// A sells with its PSAM as before.
	tmA := newTerminalPSAM(t, "pos-a", "staff", psamX)
	tmA.buy(500, false)
	if ack, e := upload(t, tl, devA, tmA.batch(1, 1, 2)); e != nil || ack.Held != 0 {
		t.Fatalf("A's sale: %+v %v", ack, e)
	}

	// The operator authorises the move.
	rb, err := tl.Rebind("pos-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rb.PSAM.Terminal, psamX[:]) || rb.PSAM.How != ledger.BoundByRebind || rb.HeldCode() != 0 {
		t.Fatalf("B after the rebind: %+v", rb.PSAM)
	}
	a = device(t, tl, "pos-a")
	if a.PSAM.Terminal != nil || a.PSAM.LostTo != "pos-b" || a.PSAM.Lost.IsZero() || a.HeldCode() != 0 {
		t.Fatalf("A after the rebind: %+v", a.PSAM)
	}
	if re := alertsOf(t, tl, ledger.AlertPSAMRebound); len(re) != 1 || re[0].Device != "pos-b" || re[0].OtherDevice != "pos-a" ||
		!bytes.Equal(re[0].TerminalID, psamX[:]) {
		t.Fatalf("psam-rebound alerts %+v", re)
	}
	if e := served(t, tl, devB); e != nil {
		t.Fatalf("B not served after the rebind: %v", e)
	}
	// A duplicate of a batch acknowledged while held: the same ack, and
	// the hold as it is now.
	if again, e := upload(t, tl, devB, tmB.batch(2, 3, 4)); e != nil || again.AckedThrough != 4 || again.Held != 0 {
		t.Fatalf("B's duplicate after the rebind: %+v %v", again, e)
	}

	// A uses the PSAM it lost: held.
	tmA.buy(200, false) // 3, 4
	if ack, e := upload(t, tl, devA, tmA.batch(2, 3, 4)); e != nil || ack.Held != protocol.CodePSAMBinding {
		t.Fatalf("A's sale with the PSAM bound to B: %+v %v", ack, e)
	}
	if e := served(t, tl, devA); e == nil || e.Code != protocol.CodePSAMBinding {
		t.Fatalf("A after using B's PSAM: %v, want psam-binding", e)
	}
	mm = alertsOf(t, tl, ledger.AlertPSAMMismatch)
	if len(mm) != 2 || mm[1].Device != "pos-a" || mm[1].Seq != 3 || mm[1].BoundTerminalID != nil {
		t.Fatalf("psam-mismatch alerts %+v", mm)
	}

	// Another PSAM in B: held again, bound X seen Y.
	tmY := newTerminalPSAM(t, "pos-b", "student", psamY)
	tmB.sam = tmY.sam
	tmB.buy(100, false) // 5, 6
	if ack, e := upload(t, tl, devB, tmB.batch(3, 5, 6)); e != nil || ack.Held != protocol.CodePSAMBinding {
		t.Fatalf("B's sale with another PSAM: %+v %v", ack, e)
	}
	mm = alertsOf(t, tl, ledger.AlertPSAMMismatch)
	if len(mm) != 3 || mm[2].Device != "pos-b" || mm[2].Seq != 5 || !bytes.Equal(mm[2].TerminalID, psamY[:]) || !bytes.Equal(mm[2].BoundTerminalID, psamX[:]) {
		t.Fatalf("psam-mismatch alerts %+v", mm)
	}
	if s := mm[2].String(); !strings.Contains(s, "terminal 000000000b02 bound 000000000a01") {
		t.Errorf("alert line %q", s)
	}
	// Held across a restart of the ledger.
	tl.Restart()
	if d := device(t, tl, "pos-b"); d.HeldCode() != protocol.CodePSAMBinding || !bytes.Equal(d.PSAM.Seen, psamY[:]) {
		t.Fatalf("B after a restart: %+v", d.PSAM)
	}
	rep, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Devices {
		if d.ID == "pos-b" && d.PSAM.Held.IsZero() {
			t.Errorf("report of B: no hold %+v", d.PSAM)
		}
	}
}

// TestPSAMTrustOnFirstUse: a device enrolled without a terminal id (before
// the binding, or its PSAM unread) binds the first one a record carries;
// one bound to another live device is psam-moved instead, while a revoked
// device's binding does not count.
func TestPSAMTrustOnFirstUse(t *testing.T) {
	tl, _ := start(t)
	dev1 := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm1 := newTerminalPSAM(t, "pos-1", "student", psamX)
	tm1.gate(1)         // 1: no terminal id
	tm1.buy(100, false) // 2, 3
	if ack, e := upload(t, tl, dev1, tm1.batch(1, 1, 3)); e != nil || ack.Held != 0 {
		t.Fatalf("first sale: %+v %v", ack, e)
	}
	d := device(t, tl, "pos-1")
	if !bytes.Equal(d.PSAM.Terminal, psamX[:]) || d.PSAM.How != ledger.BoundOnFirstUse || d.PSAM.Seq != 2 || d.PSAM.Since.IsZero() {
		t.Fatalf("binding on first use %+v", d.PSAM)
	}
	dev2 := tl.Enrol(t, "pos-2", protocol.DevicePOS)
	tm2 := newTerminalPSAM(t, "pos-2", "student", psamX)
	tm2.buy(100, false)
	if ack, e := upload(t, tl, dev2, tm2.batch(1, 1, 2)); e != nil || ack.Held != protocol.CodePSAMBinding {
		t.Fatalf("a second device with the same PSAM: %+v %v", ack, e)
	}
	if m := alertsOf(t, tl, ledger.AlertPSAMMoved); len(m) != 1 || m[0].Device != "pos-2" || m[0].OtherDevice != "pos-1" || m[0].Seq != 1 {
		t.Fatalf("psam-moved %+v", m)
	}
	// The PSAM of a revoked device goes to its replacement without a hold.
	if err := tl.Revoke("pos-1"); err != nil {
		t.Fatal(err)
	}
	dev3, resp := tl.EnrolPSAM(t, "pos-3", protocol.DevicePOS, psamX[:])
	if resp.Held != 0 || !bytes.Equal(device(t, tl, "pos-3").PSAM.Terminal, psamX[:]) {
		t.Fatalf("replacement of a revoked device: held %v, %+v", resp.Held, device(t, tl, "pos-3").PSAM)
	}
	if e := served(t, tl, dev3); e != nil {
		t.Fatalf("replacement not served: %v", e)
	}
	// A gate enrolled without a PSAM is never held for records without one.
	devG := tl.Enrol(t, "gate-1", protocol.DeviceGate)
	tmG := newTerminalPSAM(t, "gate-1", "student", psamY)
	tmG.gate(3)
	if ack, e := upload(t, tl, devG, tmG.batch(1, 1, 3)); e != nil || ack.Held != 0 || device(t, tl, "gate-1").PSAM.Terminal != nil {
		t.Fatalf("gate: %+v %v", ack, e)
	}
}

// TestPSAMRebindRefusals: rebind names an enrolled, not revoked device
// and a terminal id, given or seen; a rebind to a given id works on a
// device never held (an authorised move).
func TestPSAMRebindRefusals(t *testing.T) {
	tl, _ := start(t)
	if _, err := tl.Rebind("nobody", psamX[:]); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
	tl.Enrol(t, "pos-1", protocol.DevicePOS)
	if _, err := tl.Rebind("pos-1", nil); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("nothing seen, nothing named: %v", err)
	}
	if _, err := tl.Rebind("pos-1", []byte{1, 2, 3}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("3-byte terminal id: %v", err)
	}
	if _, _, err := tl.NewToken("pos-2", "pos"); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Rebind("pos-2", psamX[:]); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("device not enrolled: %v", err)
	}
	d, err := tl.Rebind("pos-1", psamY[:])
	if err != nil || !bytes.Equal(d.PSAM.Terminal, psamY[:]) || d.PSAM.How != ledger.BoundByRebind {
		t.Fatalf("authorised move: %+v %v", d.PSAM, err)
	}
	if err := tl.Revoke("pos-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Rebind("pos-1", psamX[:]); !errors.Is(err, ledger.ErrRevoked) {
		t.Errorf("revoked device: %v", err)
	}
	if _, err := ledger.ParseTerminal("0000000a01"); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("short hex: %v", err)
	}
	if b, err := ledger.ParseTerminal("000000000A01"); err != nil || !bytes.Equal(b, psamX[:]) {
		t.Errorf("hex: %x %v", b, err)
	}
}

// TestPSAMEnrolMismatch: a device bound to one PSAM that enrols again (a
// rekey) with another is held (psam-mismatch with the bound id).
func TestPSAMEnrolMismatch(t *testing.T) {
	tl, _ := start(t)
	tl.EnrolPSAM(t, "pos-1", protocol.DevicePOS, psamX[:])
	tok, _, err := tl.Rekey("pos-1")
	if err != nil {
		t.Fatal(err)
	}
	d := ledgertest.NewDevice(t, "pos-1")
	got, err := tl.Ledger.Enrol(ledger.EnrolParams{DeviceID: "pos-1", Token: tok, PublicKey: d.Signer.PublicKey().Key, Alg: protocol.AlgEd25519,
		Kind: "pos", TerminalID: psamY[:]})
	if err != nil || got.HeldCode() != protocol.CodePSAMBinding || !bytes.Equal(got.PSAM.Terminal, psamX[:]) {
		t.Fatalf("rekey with another PSAM: %+v %v", got.PSAM, err)
	}
	if m := alertsOf(t, tl, ledger.AlertPSAMMismatch); len(m) != 1 || !bytes.Equal(m[0].BoundTerminalID, psamX[:]) || !bytes.Equal(m[0].TerminalID, psamY[:]) {
		t.Fatalf("alerts %+v", m)
	}
}

// TestPSAMLoadRequest: a kiosk's load request with a PSAM other than its
// bound one is refused psam-binding before any MAC is looked at, and holds
// the kiosk (alert with the ids); one with its own PSAM goes on to the
// load checks.
func TestPSAMLoadRequest(t *testing.T) {
	tl, _ := start(t)
	dev, _ := tl.EnrolPSAM(t, "kiosk-1", protocol.DeviceKiosk, psamX[:])
	li := func(tid [6]byte) *protocol.Error {
		m := &protocol.LoadInit{DeviceID: "kiosk-1", CardNo: "2026000001", CardSerial: make([]byte, 8), TerminalID: tid[:],
			OnlineCounter: 1, Amount: 100, KeyIndex: 1, KeyVersion: 1, Random: make([]byte, 4), MAC1: make([]byte, 4)}
		_, body := tl.Post(t, protocol.PathLoadInit, dev.Seal(t, m))
		return ledgertest.ErrorOf(body)
	}
	if e := li(psamX); e == nil || e.Code == protocol.CodePSAMBinding {
		t.Fatalf("load request with the bound PSAM: %v, want refused by the load checks", e)
	}
	wantCode(t, li(psamY), protocol.CodePSAMBinding)
	if d := device(t, tl, "kiosk-1"); d.HeldCode() != protocol.CodePSAMBinding || d.PSAM.HeldReason != ledger.AlertPSAMMismatch {
		t.Fatalf("kiosk after a load request with another PSAM: %+v", d.PSAM)
	}
	m := alertsOf(t, tl, ledger.AlertPSAMMismatch)
	if len(m) != 1 || !bytes.Equal(m[0].TerminalID, psamY[:]) || !strings.Contains(m[0].Reason, "load request") {
		t.Fatalf("alerts %+v", m)
	}
	wantCode(t, li(psamX), protocol.CodePSAMBinding) // held now, whatever it presents
}

// TestPSAMSwapReported: a device that journals a swapped PSAM (psam-held,
// psam-swapped) is held even when the ledger has that very id bound to it
// (an authorised move the device did not know of): its rebind is what
// lets the device take money again.
func TestPSAMSwapReported(t *testing.T) {
	tl, _ := start(t)
	dev, _ := tl.EnrolPSAM(t, "pos-1", protocol.DevicePOS, psamX[:])
	if _, err := tl.Rebind("pos-1", psamY[:]); err != nil { // the operator moved it to PSAM Y
		t.Fatal(err)
	}
	tm := newTerminalPSAM(t, "pos-1", "student", psamY)
	if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindPSAMHeld, Reason: protocol.ReasonPSAMSwapped, TerminalID: psamY[:]}); err != nil {
		t.Fatal(err)
	}
	ack, e := upload(t, tl, dev, tm.batch(1, 1, 1))
	if e != nil || ack.Held != protocol.CodePSAMBinding {
		t.Fatalf("swap reported: %+v %v", ack, e)
	}
	m := alertsOf(t, tl, ledger.AlertPSAMMismatch)
	if len(m) != 1 || m[0].Seq != 1 || !bytes.Equal(m[0].TerminalID, psamY[:]) || !strings.Contains(m[0].Reason, "psam-swapped") {
		t.Fatalf("alerts %+v", m)
	}
	if d, err := tl.Rebind("pos-1", nil); err != nil || !bytes.Equal(d.PSAM.Terminal, psamY[:]) || d.HeldCode() != 0 {
		t.Fatalf("rebind to the PSAM seen: %+v %v", d.PSAM, err)
	}
	if e := served(t, tl, dev); e != nil {
		t.Fatalf("not served after the rebind: %v", e)
	}
}

// TestPSAMHeldNoServices: a held kiosk runs no self-service trade and gets
// no card-write MAC (psam-binding), while the report of a write already
// made on a card is still taken (like a load's confirmation).
func TestPSAMHeldNoServices(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	r.tl.EnrolPSAM(t, "pos-a", protocol.DevicePOS, psamX[:])
	held, resp := r.tl.EnrolPSAM(t, "kiosk-held", protocol.DeviceKiosk, psamX[:])
	if resp.Held != protocol.CodePSAMBinding {
		t.Fatalf("kiosk enrolled with pos-a's PSAM: held %v", resp.Held)
	}
	m := r.req(t, held, protocol.TradeChangePIN)
	m.CardNo, m.PIN, m.NewPIN = svcCard, sp(svcPIN), sp("112233")
	if _, e := r.svc(t, held, m); e == nil || e.Code != protocol.CodePSAMBinding {
		t.Fatalf("service at a held kiosk: %v, want psam-binding", e)
	}
	// A write made at a served kiosk, then its MAC asked and its report
	// made at the held one.
	a := r.ok(t, r.kiosk, func() *protocol.ServiceRequest {
		m := r.req(t, r.kiosk, protocol.TradeChangePIN)
		m.CardNo, m.PIN, m.NewPIN = svcCard, sp(svcPIN), sp("112233")
		return m
	}())
	w := a.Writes[0]
	_, e := post[protocol.CardWriteMAC](t, r.tl, held, protocol.PathCardWriteMAC, held.Seal(t, &protocol.CardWriteMACRequest{DeviceID: held.ID,
		WriteID: w.WriteID, CardNo: w.CardNo, CardSerial: make([]byte, 8), KeyVersion: 1, Challenge: make([]byte, 8), Command: []byte{0x84, 0x24, 0, 0, 4}}))
	if e == nil || e.Code != protocol.CodePSAMBinding {
		t.Fatalf("card-write MAC at a held kiosk: %v, want psam-binding", e)
	}
	if ack, e := r.report(t, held, w, protocol.OutcomeWritten, w.Values()); e != nil || ack.State != protocol.WriteWritten {
		t.Fatalf("report of a write made on a card, from a held kiosk: %+v %v", ack, e)
	}
}
