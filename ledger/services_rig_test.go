package ledger_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// The holder of the services tests: an account with a PIN and an ID
// number, 100.00 yuan at the ledger.
const (
	svcAcct = "H2026001"
	svcCard = "10012026090100000101"
	svcPIN  = "739164"
	svcID   = "11010519491231002X"
	op      = "op-7"
)

// svcRig: a ledger over HTTP with the demo accounts and the holder above,
// its logs captured at debug level, and a kiosk, a desk, a POS and a gate.
type svcRig struct {
	tl                     *ledgertest.Ledger
	clk                    *clock
	logs                   *syncBuf
	kiosk, desk, pos, gate *ledgertest.Device
}

func newSvcRig(t *testing.T, opts ledger.Options) *svcRig {
	t.Helper()
	clk := newClock()
	logs := &syncBuf{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tl := ledgertest.Start(t, ledgertest.Options{Now: clk.Now, Ledger: opts})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.AddAccount(ledger.AccountParams{ID: svcAcct, Card: svcCard, ValidUntil: "20300831", PIN: svcPIN, NationalID: svcID}); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.TopUp(svcAcct, 10000, "online top-up"); err != nil {
		t.Fatal(err)
	}
	return &svcRig{tl: tl, clk: clk, logs: logs,
		kiosk: tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk), desk: tl.Enrol(t, "desk-1", protocol.DeviceDesk),
		pos: tl.Enrol(t, "pos-1", protocol.DevicePOS), gate: tl.Enrol(t, "gate-1", protocol.DeviceGate)}
}

// req makes a request of trade from dev with a fresh request id (the
// desk's with the operator).
func (r *svcRig) req(t *testing.T, dev *ledgertest.Device, tr protocol.Trade) *protocol.ServiceRequest {
	m := &protocol.ServiceRequest{DeviceID: dev.ID, RequestID: newRequestID(t), Trade: tr}
	if dev == r.desk {
		m.Operator = op
	}
	return m
}

// post sends a sealed message to path and returns the opened answer T or
// the refusal, checking that a refusal's HTTP status is its code's.
func post[T any, PT interface {
	*T
	protocol.Message
}](t *testing.T, tl *ledgertest.Ledger, dev *ledgertest.Device, path string, body []byte) (T, *protocol.Error) {
	t.Helper()
	var zero T
	status, b := tl.Post(t, path, body)
	if status != http.StatusOK {
		e := ledgertest.ErrorOf(b)
		if e == nil || status != e.Code.HTTPStatus() {
			t.Fatalf("%s: HTTP %d, error %v", path, status, e)
		}
		return zero, e
	}
	v, err := openAnswer[T, PT](tl, dev, b)
	if err != nil {
		t.Fatalf("%s: open answer: %v", path, err)
	}
	return v, nil
}

func openAnswer[T any, PT interface {
	*T
	protocol.Message
}](tl *ledgertest.Ledger, dev *ledgertest.Device, b []byte) (T, error) {
	var zero T
	switch any(PT(nil)).(type) {
	case *protocol.ServiceAnswer:
		v, _, err := protocol.Open[protocol.ServiceAnswer](tl.Keys(), b, dev.ID)
		return any(v).(T), err
	case *protocol.PendingWrites:
		v, _, err := protocol.Open[protocol.PendingWrites](tl.Keys(), b, dev.ID)
		return any(v).(T), err
	case *protocol.CardWriteAck:
		v, _, err := protocol.Open[protocol.CardWriteAck](tl.Keys(), b, dev.ID)
		return any(v).(T), err
	case *protocol.CardWriteMAC:
		v, _, err := protocol.Open[protocol.CardWriteMAC](tl.Keys(), b, dev.ID)
		return any(v).(T), err
	}
	return zero, errors.New("no opener")
}

// svc sends a service request from dev.
func (r *svcRig) svc(t *testing.T, dev *ledgertest.Device, m *protocol.ServiceRequest) (protocol.ServiceAnswer, *protocol.Error) {
	t.Helper()
	return post[protocol.ServiceAnswer](t, r.tl, dev, protocol.PathServices, dev.Seal(t, m))
}

// ok sends m and fails the test on a refusal.
func (r *svcRig) ok(t *testing.T, dev *ledgertest.Device, m *protocol.ServiceRequest) protocol.ServiceAnswer {
	t.Helper()
	a, e := r.svc(t, dev, m)
	if e != nil {
		t.Fatalf("%s: %v", m.Trade, e)
	}
	return a
}

// pending asks the card's pending writes from dev.
func (r *svcRig) pending(t *testing.T, dev *ledgertest.Device, card string) []protocol.CardWrite {
	t.Helper()
	m := &protocol.PendingWritesRequest{DeviceID: dev.ID, CardNo: card}
	if dev == r.desk {
		m.Operator = op
	}
	p, e := post[protocol.PendingWrites](t, r.tl, dev, protocol.PathCardWritesPending, dev.Seal(t, m))
	if e != nil {
		t.Fatalf("pending writes: %v", e)
	}
	return p.Writes
}

// report reports the outcome of write w from dev, with the card's
// read-back echo (written).
func (r *svcRig) report(t *testing.T, dev *ledgertest.Device, w protocol.CardWrite, o protocol.WriteOutcome, echo protocol.CardValues) (protocol.CardWriteAck, *protocol.Error) {
	t.Helper()
	m := &protocol.CardWriteReport{DeviceID: dev.ID, WriteID: w.WriteID, CardNo: w.CardNo, Outcome: o,
		TxLimit: echo.TxLimit, CardStatus: echo.CardStatus, StatusVersion: echo.StatusVersion, ValidUntil: echo.ValidUntil}
	if dev == r.desk {
		m.Operator = op
	}
	return post[protocol.CardWriteAck](t, r.tl, dev, protocol.PathCardWriteReport, dev.Seal(t, m))
}

// written reports w written with the card reading back its values.
func (r *svcRig) written(t *testing.T, dev *ledgertest.Device, w protocol.CardWrite) protocol.CardWriteAck {
	t.Helper()
	ack, e := r.report(t, dev, w, protocol.OutcomeWritten, w.Values())
	if e != nil || ack.State != protocol.WriteWritten {
		t.Fatalf("report %s written: %+v %v", w.WriteID, ack, e)
	}
	return ack
}

// pinOK reports whether pin opens a statement of card at the kiosk.
func (r *svcRig) pinOK(t *testing.T, card, pin string) bool {
	t.Helper()
	m := r.req(t, r.kiosk, protocol.TradeStatement)
	m.CardNo, m.PIN = card, sp(pin)
	_, e := r.svc(t, r.kiosk, m)
	if e != nil && e.Code != protocol.CodePINInvalid {
		t.Fatalf("statement: %v", e)
	}
	return e == nil
}

// state is what a trade may change at the ledger, to compare before and
// after a replay.
func (r *svcRig) state(t *testing.T, acct, card string) [32]byte {
	t.Helper()
	rep, err := r.tl.ShowAccount(acct)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := r.tl.PendingWrites(card)
	if err != nil {
		t.Fatal(err)
	}
	v, d, err := r.tl.StatusVersion()
	if err != nil {
		t.Fatal(err)
	}
	ft, err := r.tl.FeeTotals()
	if err != nil {
		t.Fatal(err)
	}
	rep.Account.Updated = rep.Account.Created // a replay may not even touch it, but the time is no effect
	return sha256.Sum256(fmtJSON(t, rep, ws, v, d, ft))
}

// captureHost is an epurse.LoadHost that keeps the card's INITIALIZE FOR
// LOAD answer and refuses the load (no CREDIT follows): a probe, or the
// proof of a card's balance.
type captureHost struct{ got epurse.LoadAuthorization }

func (h *captureHost) AuthorizeLoad(_ context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	h.got = a
	return [4]byte{}, errors.New("probe only")
}

// initAnswer runs INITIALIZE FOR LOAD of amount on the terminal's card
// (system PIN from its SAM) and returns it as a device's LoadInit.
func initAnswer(t *testing.T, tm *terminal, dev, card string, amount uint32) *protocol.LoadInit {
	t.Helper()
	h := &captureHost{}
	epurse.Load(context.Background(), tm.card, h, epurse.LoadRequest{Amount: amount, Time: epurse.NewDateTime(tm.clock.Now()),
		TermID: [6]byte{0, 0, 0, 0, 0x44, 0x01}, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	a := h.got
	if a.MAC1 == [4]byte{} {
		t.Fatal("no INITIALIZE FOR LOAD answer")
	}
	return &protocol.LoadInit{DeviceID: dev, CardNo: card, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount), KeyIndex: epurse.DefaultKeyIndex,
		KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm), Random: a.Random[:], MAC1: a.MAC1[:]}
}

func fmtJSON(t *testing.T, v ...any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sp is a PIN in a request.
func sp(pin string) protocol.SecretPIN { return protocol.SecretPIN(pin) }
