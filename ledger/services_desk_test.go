package ledger_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
)

// TestDeskResetAndUnblock: a PIN locked by five wrong tries at a kiosk is
// unblocked at the desk (the old PIN opens again); a desk's PIN reset
// makes a pin-reload write, the new PIN opening only once it is written;
// the operator is kept with the write and its report; a desk marks a
// pending write failed without the card.
func TestDeskResetAndUnblock(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	for range accounts.MaxPINTries - 1 {
		r.pinOK(t, svcCard, "000000")
	}
	m := r.req(t, r.kiosk, protocol.TradeStatement)
	m.CardNo, m.PIN = svcCard, sp("000000")
	if _, e := r.svc(t, r.kiosk, m); e == nil || e.Code != protocol.CodePINLocked {
		t.Fatalf("the fifth wrong PIN: %v", e)
	}
	m = r.req(t, r.kiosk, protocol.TradeStatement)
	m.CardNo, m.PIN = svcCard, sp(svcPIN)
	if _, e := r.svc(t, r.kiosk, m); e == nil || e.Code != protocol.CodePINLocked {
		t.Fatalf("after five wrong PINs: %v", e)
	}
	u := r.req(t, r.desk, protocol.TradeUnblock)
	u.Account, u.Unblock = svcAcct, protocol.UnblockPIN
	if a := r.ok(t, r.desk, u); a.Account != svcAcct {
		t.Fatalf("unblock %+v", a)
	}
	if !r.pinOK(t, svcCard, svcPIN) {
		t.Fatal("unblocked PIN does not open")
	}

	reset := r.req(t, r.desk, protocol.TradeResetPIN)
	reset.CardNo, reset.NewPIN = svcCard, sp("246810")
	a := r.ok(t, r.desk, reset)
	if len(a.Writes) != 1 || a.Writes[0].Field != protocol.FieldPINReload {
		t.Fatalf("reset %+v", a)
	}
	if r.pinOK(t, svcCard, "246810") {
		t.Fatal("the reset PIN opens before the card holds it")
	}
	r.written(t, r.desk, a.Writes[0])
	if !r.pinOK(t, svcCard, "246810") || r.pinOK(t, svcCard, svcPIN) {
		t.Fatal("after PIN RELOAD the new PIN only")
	}
	cw, err := r.tl.CardWriteByID(mustWriteID(t, a.Writes[0].WriteID))
	if err != nil || cw.Operator != op || cw.ReportOperator != op || cw.Device != "desk-1" {
		t.Fatalf("the operator is not kept: %+v %v", cw, err)
	}

	// A write the card never took: the desk gives it up.
	lim := r.req(t, r.kiosk, protocol.TradeSetLimit)
	lim.CardNo, lim.PIN, lim.TxLimit = svcCard, sp("246810"), 2000
	w := r.ok(t, r.kiosk, lim).Writes[0]
	r.report(t, r.kiosk, w, protocol.OutcomeTornUnknown, protocol.CardValues{})
	ws := r.pending(t, r.desk, svcCard)
	if len(ws) != 1 || !ws[0].Torn {
		t.Fatalf("the desk's list %+v", ws)
	}
	if ack, e := r.report(t, r.desk, ws[0], protocol.OutcomeFailed, protocol.CardValues{}); e != nil || ack.State != protocol.WriteFailed {
		t.Fatalf("desk marks failed: %+v %v", ack, e)
	}
	if len(r.pending(t, r.kiosk, svcCard)) != 0 || account(t, r.tl, svcAcct).TxLimit != accounts.DefaultTxLimit {
		t.Fatal("a failed write changed the account or stays pending")
	}
}

// TestDeskUnblockIDLockout: the desk clears the 解挂 lockout at once.
func TestDeskUnblockIDLockout(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	loss := r.req(t, r.kiosk, protocol.TradeReportLoss)
	loss.Account, loss.PIN = svcAcct, sp(svcPIN)
	r.ok(t, r.kiosk, loss)
	un := func() *protocol.Error {
		m := r.req(t, r.kiosk, protocol.TradeUnfreeze)
		m.CardNo, m.PIN, m.NationalID = svcCard, sp(svcPIN), protocol.SecretID("110105194912310000")
		_, e := r.svc(t, r.kiosk, m)
		return e
	}
	for range accounts.MaxIDTries {
		un()
	}
	if e := un(); e == nil || e.Code != protocol.CodeTriesLocked {
		t.Fatalf("locked: %v", e)
	}
	u := r.req(t, r.desk, protocol.TradeUnblock)
	u.CardNo, u.Unblock = svcCard, protocol.UnblockID
	r.ok(t, r.desk, u)
	m := r.req(t, r.kiosk, protocol.TradeUnfreeze)
	m.CardNo, m.PIN, m.NationalID = svcCard, sp(svcPIN), protocol.SecretID(svcID)
	if _, e := r.svc(t, r.kiosk, m); e != nil {
		t.Fatalf("after the desk's unblock: %v", e)
	}
}

// TestCloseAccount: 销户 at the desk with the student's strict virtual
// card: refused while a load is authorised and unsettled; after the probe
// settles it, the card's MAC1-proven purse balance moves to the account
// for the refund, the account is cancelled, the card listed cancelled and
// a status write made; a forged balance is refused (mac-invalid); the
// closed account takes no trade.
func TestCloseAccount(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	tm := newTerminal(t, "desk-1", "student")
	// A load authorised at the ledger, its CREDIT never sent.
	li := initAnswer(t, tm, "kiosk-1", sim.DemoStudentNo, 2000)
	if status, body := r.tl.Post(t, protocol.PathLoadInit, r.kiosk.Seal(t, li)); status != http.StatusOK {
		t.Fatalf("load init: %d %v", status, ledgertestErr(body))
	}
	closeReq := func(proof *protocol.LoadInit) *protocol.ServiceRequest {
		m := r.req(t, r.desk, protocol.TradeCloseAccount)
		m.CardNo, m.Proof = sim.DemoStudentNo, proof
		return m
	}
	if _, e := r.svc(t, r.desk, closeReq(initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1))); e == nil || e.Code != protocol.CodeLoadUnsettled {
		t.Fatalf("close with a load unsettled: %v", e)
	}
	probe := initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1)
	if status, body := r.tl.Post(t, protocol.PathLoadProbe, r.desk.Seal(t, probe)); status != http.StatusOK {
		t.Fatalf("probe: %d %v", status, ledgertestErr(body))
	}
	if v := account(t, r.tl, "S2026001"); v.Authorised != 0 || v.Balance != 5000 {
		t.Fatalf("after the probe %+v", v)
	}
	forged := initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1)
	forged.BalanceBefore += 100000
	if _, e := r.svc(t, r.desk, closeReq(forged)); e == nil || e.Code != protocol.CodeMACInvalid {
		t.Fatalf("a forged balance: %v", e)
	}
	bal := initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1).BalanceBefore
	a := r.ok(t, r.desk, closeReq(initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1)))
	if a.State != "cancelled" || a.Refund != 5000+bal || len(a.Writes) != 1 || a.Writes[0].CardStatus != 4 || a.Writes[0].StatusVersion != a.StatusVersion {
		t.Fatalf("close %+v (purse %d)", a, bal)
	}
	if e, ok, _ := r.tl.StatusOf(sim.DemoStudentNo); !ok || e.Reason != ledger.ReasonCancelled {
		t.Fatalf("status %+v", e)
	}
	rep, _ := r.tl.ShowAccount("S2026001")
	if last := rep.Entries[len(rep.Entries)-1]; last.Kind != accounts.EntryClose || last.Amount != bal {
		t.Fatalf("close entry %+v", last)
	}
	r.written(t, r.desk, a.Writes[0]) // the desk writes the card cancelled
	if v := account(t, r.tl, "S2026001"); v.State != accounts.Cancelled {
		t.Fatalf("after the card write %+v", v)
	}
	m := r.req(t, r.kiosk, protocol.TradeStatement)
	m.CardNo, m.PIN = sim.DemoStudentNo, sp("123456")
	if _, e := r.svc(t, r.kiosk, m); e == nil || e.Code != protocol.CodeAccountCancelled {
		t.Fatalf("a closed account's statement: %v", e)
	}
	if _, e := r.svc(t, r.desk, closeReq(initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1))); e == nil || e.Code != protocol.CodeAccountCancelled {
		t.Fatalf("closed twice: %v", e)
	}
}

func ledgertestErr(b []byte) error {
	if e := ledgertest.ErrorOf(b); e != nil {
		return e
	}
	return errors.New("no error body")
}
