package ledger_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
)

// TestChangePIN: 修改密码 checks the old PIN and makes a pin write; the
// ledger keeps the old PIN until the write is reported written, then only
// the new one opens; a second change waits for the first write; a failed
// write leaves the PIN as it was.
func TestChangePIN(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	m := r.req(t, r.kiosk, protocol.TradeChangePIN)
	m.CardNo, m.PIN, m.NewPIN = svcCard, sp(svcPIN), sp("112233")
	a := r.ok(t, r.kiosk, m)
	if len(a.Writes) != 1 || a.Writes[0].Field != protocol.FieldPIN || a.Writes[0].State != protocol.WritePending || a.Account != svcAcct {
		t.Fatalf("answer %+v", a)
	}
	w := a.Writes[0]
	if !r.pinOK(t, svcCard, svcPIN) || r.pinOK(t, svcCard, "112233") {
		t.Fatal("before the card is written the ledger must take the old PIN only")
	}
	again := r.req(t, r.kiosk, protocol.TradeChangePIN)
	again.CardNo, again.PIN, again.NewPIN = svcCard, sp(svcPIN), sp("445566")
	if _, e := r.svc(t, r.kiosk, again); e == nil || e.Code != protocol.CodeWritePending {
		t.Fatalf("second change while the first write waits: %v", e)
	}
	if ws := r.pending(t, r.pos, svcCard); len(ws) != 1 || ws[0] != w {
		t.Fatalf("pending at a POS: %+v", ws)
	}
	if _, e := r.report(t, r.kiosk, w, protocol.OutcomeWritten, protocol.CardValues{TxLimit: 1}); e == nil || e.Code != protocol.CodeWriteMismatch {
		t.Fatalf("a PIN write reported with a read-back: %v", e)
	}
	r.written(t, r.kiosk, w)
	if r.pinOK(t, svcCard, svcPIN) || !r.pinOK(t, svcCard, "112233") {
		t.Fatal("after the write the new PIN only")
	}
	before := r.state(t, svcAcct, svcCard)
	if ack := r.written(t, r.kiosk, w); ack.State != protocol.WriteWritten {
		t.Fatal(ack)
	}
	if r.state(t, svcAcct, svcCard) != before {
		t.Fatal("a second written report changed something")
	}
	// A failed write: the PIN stays.
	f := r.req(t, r.kiosk, protocol.TradeChangePIN)
	f.CardNo, f.PIN, f.NewPIN = svcCard, sp("112233"), sp("998877")
	fa := r.ok(t, r.kiosk, f)
	if ack, e := r.report(t, r.kiosk, fa.Writes[0], protocol.OutcomeFailed, protocol.CardValues{}); e != nil || ack.State != protocol.WriteFailed {
		t.Fatalf("failed: %+v %v", ack, e)
	}
	if !r.pinOK(t, svcCard, "112233") || r.pinOK(t, svcCard, "998877") {
		t.Fatal("a failed PIN write changed the PIN")
	}
	if ack, e := r.report(t, r.kiosk, fa.Writes[0], protocol.OutcomeWritten, protocol.CardValues{}); e != nil || ack.State != protocol.WriteFailed {
		t.Fatalf("written after failed: %+v %v", ack, e)
	}
	if r.pinOK(t, svcCard, "998877") {
		t.Fatal("a write reported written after it failed was applied")
	}
}

// TestSetLimit: 调整限额 within the purse limit makes a tx-limit write;
// the limit the ledger answers (Claims) changes only when the write is
// reported written with the card's read-back; a wrong read-back is
// refused and changes nothing; torn-unknown leaves it pending for 补写.
func TestSetLimit(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	high := r.req(t, r.kiosk, protocol.TradeSetLimit)
	high.CardNo, high.PIN, high.TxLimit = svcCard, sp(svcPIN), accounts.DefaultPurseLimit+1
	if _, e := r.svc(t, r.kiosk, high); e == nil || e.Code != protocol.CodeAmountLimit {
		t.Fatalf("above the purse limit: %v", e)
	}
	m := r.req(t, r.kiosk, protocol.TradeSetLimit)
	m.CardNo, m.PIN, m.TxLimit = svcCard, sp(svcPIN), 8000
	a := r.ok(t, r.kiosk, m)
	w := a.Writes[0]
	if w.Field != protocol.FieldTxLimit || w.TxLimit != 8000 || a.TxLimit != accounts.DefaultTxLimit {
		t.Fatalf("answer %+v", a)
	}
	if c := claims(t, r.tl, r.kiosk, svcCard, 0); c.TxLimit != accounts.DefaultTxLimit {
		t.Fatalf("the ledger believes the limit before the card says it: %+v", c)
	}
	if _, e := r.report(t, r.pos, w, protocol.OutcomeWritten, protocol.CardValues{TxLimit: 5000}); e == nil || e.Code != protocol.CodeWriteMismatch {
		t.Fatalf("wrong read-back: %v", e)
	}
	if ack, e := r.report(t, r.kiosk, w, protocol.OutcomeTornUnknown, protocol.CardValues{}); e != nil || ack.State != protocol.WritePending {
		t.Fatalf("torn: %+v %v", ack, e)
	}
	ws := r.pending(t, r.desk, svcCard)
	if len(ws) != 1 || !ws[0].Torn || ws[0].WriteID != w.WriteID {
		t.Fatalf("pending after a torn write: %+v", ws)
	}
	r.written(t, r.pos, ws[0]) // 补写 at a POS
	if c := claims(t, r.tl, r.kiosk, svcCard, 0); c.TxLimit != 8000 {
		t.Fatalf("limit after the write: %+v", c)
	}
	cw, err := r.tl.CardWriteByID(mustWriteID(t, w.WriteID))
	if err != nil || cw.Device != "pos-1" || cw.State != protocol.WriteWritten || cw.Ref == "" {
		t.Fatalf("write record %+v %v", cw, err)
	}
	zero := r.req(t, r.kiosk, protocol.TradeSetLimit) // 0: the PIN above every amount
	zero.CardNo, zero.PIN = svcCard, sp(svcPIN)
	z := r.ok(t, r.kiosk, zero)
	r.written(t, r.kiosk, z.Writes[0])
	if v := account(t, r.tl, svcAcct); v.TxLimit != 0 {
		t.Fatalf("limit 0: %+v", v)
	}
}

func mustWriteID(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := ledger.ParseWriteID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestReportLossAndUnfreeze: 挂失 by the holder's number and PIN lists the
// card lost at once in a new status-list version; 解挂 with the card, the
// PIN and the ID number answers the version the card must carry and a
// status write; the account stays lost and listed until the write is
// reported written, then it has the state the loss report found and the
// card leaves the list in that version.
func TestReportLossAndUnfreeze(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	v0, _, _ := r.tl.StatusVersion()
	loss := r.req(t, r.kiosk, protocol.TradeReportLoss)
	loss.Account, loss.PIN = svcAcct, sp(svcPIN)
	a := r.ok(t, r.kiosk, loss)
	if a.StatusVersion != v0+1 || a.State != "lost" || a.CardNo != svcCard {
		t.Fatalf("loss answer %+v (list was %d)", a, v0)
	}
	if e, ok, _ := r.tl.StatusOf(svcCard); !ok || e.Reason != ledger.ReasonLost {
		t.Fatalf("status %+v %v", e, ok)
	}
	again := r.req(t, r.kiosk, protocol.TradeReportLoss)
	again.Account, again.PIN = svcAcct, sp(svcPIN)
	if _, e := r.svc(t, r.kiosk, again); e == nil || e.Code != protocol.CodeStateRefused {
		t.Fatalf("loss of a lost account: %v", e)
	}
	// A lost card's PIN and limit stay as they are.
	lim := r.req(t, r.kiosk, protocol.TradeSetLimit)
	lim.CardNo, lim.PIN, lim.TxLimit = svcCard, sp(svcPIN), 100
	if _, e := r.svc(t, r.kiosk, lim); e == nil || e.Code != protocol.CodeAccountLost {
		t.Fatalf("limit of a lost card: %v", e)
	}

	un := r.req(t, r.kiosk, protocol.TradeUnfreeze)
	un.CardNo, un.PIN, un.NationalID = svcCard, sp(svcPIN), protocol.SecretID("11010519491231002x") // lower case x: the same number
	u := r.ok(t, r.kiosk, un)
	if len(u.Writes) != 1 || u.Writes[0].Field != protocol.FieldStatus || u.Writes[0].StatusVersion != v0+2 || u.StatusVersion != v0+2 ||
		u.Writes[0].CardStatus != 0 || u.State != "lost" {
		t.Fatalf("unfreeze answer %+v", u)
	}
	if _, ok, _ := r.tl.StatusOf(svcCard); !ok || account(t, r.tl, svcAcct).State != accounts.Lost {
		t.Fatal("unfrozen before the card says it")
	}
	ack := r.written(t, r.kiosk, u.Writes[0])
	if ack.StatusVersion != v0+2 {
		t.Fatalf("the card's version %d, the list's removal %d", v0+2, ack.StatusVersion)
	}
	if _, ok, _ := r.tl.StatusOf(svcCard); ok || account(t, r.tl, svcAcct).State != accounts.Normal {
		t.Fatal("not unfrozen after the write")
	}
	st, err := r.tl.Status(v0 + 1)
	if err != nil || st.Version != v0+2 || len(st.Entries) != 1 || st.Entries[0].Reason != ledger.ReasonRemoved {
		t.Fatalf("delta to the card's version: %+v %v", st, err)
	}
	// A normal card is not unfrozen.
	un2 := r.req(t, r.kiosk, protocol.TradeUnfreeze)
	un2.CardNo, un2.PIN, un2.NationalID = svcCard, sp(svcPIN), protocol.SecretID(svcID)
	if _, e := r.svc(t, r.kiosk, un2); e == nil || e.Code != protocol.CodeStateRefused {
		t.Fatalf("unfreeze of a normal card: %v", e)
	}
}

// TestUnfreezeRestoresState: a spend-only account reported lost and
// unfrozen is spend-only again (not normal); an operations freeze is not
// lifted at a kiosk.
func TestUnfreezeRestoresState(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	so := "spend-only"
	if _, err := r.tl.SetAccount(svcAcct, ledger.AccountChange{State: &so}); err != nil {
		t.Fatal(err)
	}
	loss := r.req(t, r.kiosk, protocol.TradeReportLoss)
	loss.Account, loss.PIN = svcAcct, sp(svcPIN)
	r.ok(t, r.kiosk, loss)
	un := r.req(t, r.kiosk, protocol.TradeUnfreeze)
	un.CardNo, un.PIN, un.NationalID = svcCard, sp(svcPIN), protocol.SecretID(svcID)
	r.written(t, r.kiosk, r.ok(t, r.kiosk, un).Writes[0])
	if v := account(t, r.tl, svcAcct); v.State != accounts.SpendOnly || v.Prior != "" {
		t.Fatalf("after 解挂: %+v", v)
	}
	fr := "frozen"
	if _, err := r.tl.SetAccount(svcAcct, ledger.AccountChange{State: &fr}); err != nil {
		t.Fatal(err)
	}
	un = r.req(t, r.kiosk, protocol.TradeUnfreeze)
	un.CardNo, un.PIN, un.NationalID = svcCard, sp(svcPIN), protocol.SecretID(svcID)
	if _, e := r.svc(t, r.kiosk, un); e == nil || e.Code != protocol.CodeAccountFrozen {
		t.Fatalf("unfreeze of an operations freeze: %v", e)
	}
}

// TestUnfreezeIDTries: wrong ID numbers count down (tries left), the
// fifth locks the check until the lockout's end (even the right number is
// refused, no PIN try spent), and after it the right number unfreezes; a
// wrong PIN counts against the PIN.
func TestUnfreezeIDTries(t *testing.T) {
	r := newSvcRig(t, ledger.Options{IDLockout: 2 * time.Hour})
	loss := r.req(t, r.kiosk, protocol.TradeReportLoss)
	loss.Account, loss.PIN = svcAcct, sp(svcPIN)
	r.ok(t, r.kiosk, loss)
	un := func(pin, id string) *protocol.Error {
		m := r.req(t, r.kiosk, protocol.TradeUnfreeze)
		m.CardNo, m.PIN, m.NationalID = svcCard, sp(pin), protocol.SecretID(id)
		_, e := r.svc(t, r.kiosk, m)
		return e
	}
	if e := un("000000", svcID); e == nil || e.Code != protocol.CodePINInvalid || e.TriesLeft != 4 {
		t.Fatalf("wrong PIN: %+v", e)
	}
	for left := 4; left >= 1; left-- {
		if e := un(svcPIN, "110105194912310000"); e == nil || e.Code != protocol.CodeIDInvalid || e.TriesLeft != left {
			t.Fatalf("wrong ID, %d left: %+v", left, e)
		}
	}
	until := r.clk.Now().Add(2 * time.Hour).Unix()
	if e := un(svcPIN, "110105194912310000"); e == nil || e.Code != protocol.CodeTriesLocked || e.Until != until {
		t.Fatalf("fifth wrong ID: %+v", e)
	}
	if e := un(svcPIN, svcID); e == nil || e.Code != protocol.CodeTriesLocked || e.Until != until {
		t.Fatalf("right ID while locked: %+v", e)
	}
	if v := account(t, r.tl, svcAcct); v.PINTries != 0 || v.IDTries != 0 || v.IDLockedUntil.Unix() != until {
		t.Fatalf("the right PIN cleared the PIN count, the lock holds: %+v", v)
	}
	r.clk.Advance(2 * time.Hour)
	if e := un(svcPIN, svcID); e != nil {
		t.Fatalf("after the lockout: %v", e)
	}
	if v := account(t, r.tl, svcAcct); v.IDTries != 0 || !v.IDLockedUntil.IsZero() {
		t.Fatalf("a right ID number clears the count: %+v", v)
	}
}

// TestReactivate: 卡状态验证 of a dormant card with the PIN: normal and off
// the list when its status write is written; a card not dormant is
// refused.
func TestReactivate(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	m := r.req(t, r.kiosk, protocol.TradeReactivate)
	m.CardNo, m.PIN = svcCard, sp(svcPIN)
	if _, e := r.svc(t, r.kiosk, m); e == nil || e.Code != protocol.CodeStateRefused {
		t.Fatalf("a normal card: %v", e)
	}
	d := "dormant"
	if _, err := r.tl.SetAccount(svcAcct, ledger.AccountChange{State: &d}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tl.SetStatus(svcCard, ledger.ReasonDormant); err != nil {
		t.Fatal(err)
	}
	m = r.req(t, r.kiosk, protocol.TradeReactivate)
	m.CardNo, m.PIN = svcCard, sp(svcPIN)
	a := r.ok(t, r.kiosk, m)
	if a.State != "dormant" || len(a.Writes) != 1 {
		t.Fatalf("answer %+v", a)
	}
	if _, e := r.report(t, r.kiosk, a.Writes[0], protocol.OutcomeWritten, protocol.CardValues{StatusVersion: a.StatusVersion - 1}); e == nil || e.Code != protocol.CodeWriteMismatch {
		t.Fatalf("an older version read back: %v", e)
	}
	r.written(t, r.kiosk, a.Writes[0])
	if _, ok, _ := r.tl.StatusOf(svcCard); ok || account(t, r.tl, svcAcct).State != accounts.Normal {
		t.Fatal("not reactivated")
	}
}

// TestPayFee: 网费 from the account, once per order id: the same request,
// or a new request with the same order id (the kiosk lost the answer),
// answers the same order and debits once; the service's total counts it
// once; the order is found by its id. Refusals: another payment under the
// same order id, an unknown service, above the maximum, more than the
// balance, a lost or expired account; a spend-only account may pay.
func TestPayFee(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	fee := func(card, pin, order string, amount int64) *protocol.ServiceRequest {
		m := r.req(t, r.kiosk, protocol.TradePayFee)
		m.CardNo, m.PIN, m.OrderID, m.Service, m.Reference, m.Amount = card, sp(pin), order, "net", "room 3-201", amount
		return m
	}
	m := fee(svcCard, svcPIN, "kiosk-1:0001", 3000)
	a := r.ok(t, r.kiosk, m)
	if a.Order == nil || a.Order.Amount != 3000 || a.Order.Receipt == "" || a.Balance != 7000 {
		t.Fatalf("answer %+v", a)
	}
	if b := r.ok(t, r.kiosk, m); !equalAnswers(t, a, b) {
		t.Fatal("replay answered otherwise")
	}
	lost := fee(svcCard, svcPIN, "kiosk-1:0001", 3000) // new request id, same order
	if b := r.ok(t, r.kiosk, lost); b.Order == nil || *b.Order != *a.Order {
		t.Fatalf("same order, new request: %+v", b)
	}
	if v := account(t, r.tl, svcAcct); v.Balance != 7000 {
		t.Fatalf("balance %d after one fee asked three times", v.Balance)
	}
	if ft, _ := r.tl.FeeTotals(); ft["net"] != 3000 {
		t.Fatalf("service credited %v", ft)
	}
	q := r.req(t, r.kiosk, protocol.TradeFeeOrder)
	q.OrderID = "kiosk-1:0001"
	if b := r.ok(t, r.kiosk, q); b.Order == nil || *b.Order != *a.Order {
		t.Fatalf("query %+v", b)
	}
	q.RequestID, q.OrderID = newRequestID(t), "kiosk-1:0404"
	if _, e := r.svc(t, r.kiosk, q); e == nil || e.Code != protocol.CodeUnknownRef {
		t.Fatalf("unknown order: %v", e)
	}
	for _, tc := range []struct {
		name string
		m    *protocol.ServiceRequest
		code protocol.Code
	}{
		{"order id of another payment", fee(svcCard, svcPIN, "kiosk-1:0001", 3001), protocol.CodeMalformed},
		{"above the maximum", fee(svcCard, svcPIN, "kiosk-1:0002", ledger.MaxFee+1), protocol.CodeAmountLimit},
		{"more than the balance", fee(svcCard, svcPIN, "kiosk-1:0003", 7001), protocol.CodeInsufficient},
		{"wrong PIN", fee(svcCard, "000000", "kiosk-1:0004", 100), protocol.CodePINInvalid},
		{"lost", fee(sim.DemoLostNo, "123456", "kiosk-1:0005", 100), protocol.CodeAccountLost},
		{"expired", fee(sim.DemoExpiredNo, "123456", "kiosk-1:0006", 100), protocol.CodeAccountExpired},
		{"no account", fee("10012026090100000077", "123456", "kiosk-1:0007", 100), protocol.CodeNoAccount},
	} {
		if _, e := r.svc(t, r.kiosk, tc.m); e == nil || e.Code != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, e, tc.code)
		}
	}
	el := fee(svcCard, svcPIN, "kiosk-1:0008", 100)
	el.Service = "water"
	if _, e := r.svc(t, r.kiosk, el); e == nil || e.Code != protocol.CodeMalformed {
		t.Errorf("unknown service: %v", e)
	}
	if b := r.ok(t, r.kiosk, fee(sim.DemoStaffNo, "123456", "kiosk-1:0009", 1000)); b.Balance != 2000 {
		t.Fatalf("spend-only pays: %+v", b)
	}
	if v := account(t, r.tl, svcAcct); v.Balance != 7000 {
		t.Fatalf("a refused fee moved money: %d", v.Balance)
	}
}

func equalAnswers(t *testing.T, a, b protocol.ServiceAnswer) bool {
	t.Helper()
	x, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

// TestStatement: balance, state, limit, validity and the last N
// movements, newest last.
func TestStatement(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	for i := range 4 {
		if _, err := r.tl.TopUp(svcAcct, int64(100*(i+1)), "top-up"); err != nil {
			t.Fatal(err)
		}
	}
	m := r.req(t, r.kiosk, protocol.TradeStatement)
	m.CardNo, m.PIN, m.Count = svcCard, sp(svcPIN), 3
	a := r.ok(t, r.kiosk, m)
	if a.Balance != 11000 || a.State != "normal" || a.ValidUntil != "20300831" || a.TxLimit != accounts.DefaultTxLimit || len(a.Movements) != 3 {
		t.Fatalf("statement %+v", a)
	}
	if last := a.Movements[2]; last.Amount != 400 || last.Balance != 11000 || last.Kind != "topup" {
		t.Fatalf("last movement %+v", last)
	}
	m = r.req(t, r.kiosk, protocol.TradeStatement)
	m.CardNo, m.PIN = svcCard, sp(svcPIN)
	if a := r.ok(t, r.kiosk, m); len(a.Movements) != 5 {
		t.Fatalf("default count: %d movements of 5", len(a.Movements))
	}
}

// TestServiceAuthority: only a kiosk or a desk asks for trades; a desk
// names its operator, a kiosk none; the desk's trades are refused at a
// kiosk; a gate gets no card writes; a request id reused for another
// request is refused.
func TestServiceAuthority(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	st := func(dev string, opID string, tr protocol.Trade) *protocol.ServiceRequest {
		m := &protocol.ServiceRequest{DeviceID: dev, RequestID: newRequestID(t), Trade: tr, Operator: opID, CardNo: svcCard}
		switch tr {
		case protocol.TradeStatement:
			m.PIN = sp(svcPIN)
		case protocol.TradeResetPIN:
			m.NewPIN = sp("123123")
		}
		return m
	}
	for _, tc := range []struct {
		name string
		dev  *ledgertest.Device
		m    *protocol.ServiceRequest
	}{
		{"pos", r.pos, st("pos-1", "", protocol.TradeStatement)},
		{"gate", r.gate, st("gate-1", "", protocol.TradeStatement)},
		{"desk without operator", r.desk, st("desk-1", "", protocol.TradeStatement)},
		{"kiosk with operator", r.kiosk, st("kiosk-1", op, protocol.TradeStatement)},
		{"reset at a kiosk", r.kiosk, st("kiosk-1", "", protocol.TradeResetPIN)},
	} {
		if _, e := r.svc(t, tc.dev, tc.m); e == nil || e.Code != protocol.CodeMalformed {
			t.Errorf("%s: %v", tc.name, e)
		}
	}
	if a, e := r.svc(t, r.desk, st("desk-1", op, protocol.TradeStatement)); e != nil || a.Account != svcAcct {
		t.Fatalf("a desk runs the kiosk's trades: %v", e)
	}
	m := &protocol.PendingWritesRequest{DeviceID: "gate-1", CardNo: svcCard}
	if _, e := post[protocol.PendingWrites](t, r.tl, r.gate, protocol.PathCardWritesPending, r.gate.Seal(t, m)); e == nil || e.Code != protocol.CodeMalformed {
		t.Errorf("a gate's pending writes: %v", e)
	}
	m = &protocol.PendingWritesRequest{DeviceID: "desk-1", CardNo: svcCard}
	if _, e := post[protocol.PendingWrites](t, r.tl, r.desk, protocol.PathCardWritesPending, r.desk.Seal(t, m)); e == nil || e.Code != protocol.CodeMalformed {
		t.Errorf("a desk's pending writes without operator: %v", e)
	}
	first := st("kiosk-1", "", protocol.TradeStatement)
	r.ok(t, r.kiosk, first)
	other := *first
	other.Count = 2
	if _, e := r.svc(t, r.kiosk, &other); e == nil || e.Code != protocol.CodeMalformed {
		t.Errorf("request id reused for another request: %v", e)
	}
	// The same request id from another device is another request.
	same := *first
	same.DeviceID, same.Operator = "desk-1", op
	if _, e := r.svc(t, r.desk, &same); e != nil {
		t.Errorf("another device's request id: %v", e)
	}
}
