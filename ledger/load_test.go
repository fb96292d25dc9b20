package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// kioskHost is the kiosk's side of a load: epurse.LoadHost over the
// ledger's /v1/loads/init.
type kioskHost struct {
	t      *testing.T
	tl     *ledgertest.Ledger
	dev    *ledgertest.Device
	cardNo string
	// sendTime sends the kiosk's CREDIT FOR LOAD time in LoadInit.TxTime
	// (to Ledger.InitLoad directly: see directInit); without, the ledger
	// picks the time over HTTP and it must be the kiosk's.
	sendTime bool
	// set by AuthorizeLoad
	sent []byte
	resp protocol.LoadInitResponse
}

func (h *kioskHost) AuthorizeLoad(_ context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	req := &protocol.LoadInit{DeviceID: h.dev.ID, CardNo: h.cardNo, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount), KeyIndex: epurse.DefaultKeyIndex,
		KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm), Random: a.Random[:], MAC1: a.MAC1[:]}
	if h.sendTime {
		req.TxTime = a.Time[:]
		return h.directInit(req)
	}
	h.sent = h.dev.Seal(h.t, req)
	status, body := h.tl.Post(h.t, "/v1/loads/init", h.sent)
	if status != http.StatusOK {
		return [4]byte{}, ledgertest.ErrorOf(body)
	}
	resp, _, err := protocol.Open[protocol.LoadInitResponse](h.tl.Keys(), body, h.dev.ID)
	if err != nil {
		return [4]byte{}, err
	}
	// The card will check MAC2 over the time CREDIT FOR LOAD carries.
	if !bytes.Equal(resp.TxTime, a.Time[:]) {
		return [4]byte{}, fmt.Errorf("ledger time %X, kiosk time %X", resp.TxTime, a.Time[:])
	}
	h.resp = resp
	return [4]byte(resp.MAC2), nil
}

// directInit gives req to Ledger.InitLoad as the server would and keeps
// the answer. (The server's /v1/loads/init does not pass LoadInit.TxTime
// on yet: ledger/server.go needs TxTime: req.TxTime in its
// LoadInitParams.)
func (h *kioskHost) directInit(req *protocol.LoadInit) ([4]byte, error) {
	h.sent = h.dev.Seal(h.t, req)
	res, err := h.tl.InitLoad(ledger.LoadInitParams{
		DeviceID: h.dev.ID, CardNo: req.CardNo, CardSerial: [8]byte(req.CardSerial), TerminalID: [6]byte(req.TerminalID),
		OnlineCounter: req.OnlineCounter, BalanceBefore: uint32(req.BalanceBefore), Amount: uint32(req.Amount),
		KeyIndex: req.KeyIndex, KeyVersion: req.KeyVersion, Algorithm: req.Algorithm,
		Random: [4]byte(req.Random), MAC1: [4]byte(req.MAC1), TxTime: req.TxTime,
	})
	if err != nil {
		return [4]byte{}, err
	}
	h.resp = protocol.LoadInitResponse{LoadID: fmt.Sprint(res.LoadID), Amount: int64(res.Amount), TxTime: res.TxTime[:], MAC2: res.MAC2[:]}
	if !bytes.Equal(h.resp.TxTime, req.TxTime) {
		return [4]byte{}, fmt.Errorf("ledger time %X, kiosk time %X", h.resp.TxTime, req.TxTime)
	}
	return res.MAC2, nil
}

func confirm(t *testing.T, tl *ledgertest.Ledger, dev *ledgertest.Device, m *protocol.LoadConfirm) (protocol.LoadConfirmResponse, *protocol.Error) {
	t.Helper()
	status, body := tl.Post(t, "/v1/loads/confirm", dev.Seal(t, m))
	if status != http.StatusOK {
		return protocol.LoadConfirmResponse{}, ledgertest.ErrorOf(body)
	}
	resp, _, err := protocol.Open[protocol.LoadConfirmResponse](tl.Keys(), body, dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	return resp, nil
}

func TestLoadEndToEnd(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "student") // the kiosk's card in the reader
	cardNo := tm.pub.CardNumber()
	if _, err := tl.AddLoad(cardNo, 5000, "bank transfer"); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.AddLoad(cardNo, 300, "refund"); err != nil {
		t.Fatal(err)
	}

	status, body := tl.Post(t, "/v1/pending", dev.Seal(t, &protocol.PendingRequest{DeviceID: dev.ID, CardNo: cardNo}))
	if status != http.StatusOK {
		t.Fatalf("pending: %d %v", status, ledgertest.ErrorOf(body))
	}
	pend, _, err := protocol.Open[protocol.Pending](tl.Keys(), body, dev.ID)
	if err != nil || len(pend.Loads) != 2 || pend.Total() != 5300 || pend.Loads[0].Amount != 5000 {
		t.Fatalf("pending %+v %v", pend, err)
	}

	ctx := context.Background()
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo}
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x01}
	out := epurse.Load(ctx, tm.card, host, epurse.LoadRequest{Amount: 5000, Time: epurse.NewDateTime(clk.Now()), TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Done {
		t.Fatalf("load: %v %v", out.Kind, out.Err)
	}
	if bal, err := epurse.GetBalance(ctx, tm.card); err != nil || bal != 15000 {
		t.Fatalf("card balance %d %v", bal, err)
	}
	if ld, _ := tl.LoadByID(mustID(t, host.resp.LoadID)); ld.State != ledger.LoadAuthorised {
		t.Errorf("before the confirmation: %s", ld.State)
	}

	// The same init again (a retry after a lost answer): the same answer.
	status, body = tl.Post(t, "/v1/loads/init", host.sent)
	again, _, err := protocol.Open[protocol.LoadInitResponse](tl.Keys(), body, dev.ID)
	if status != http.StatusOK || err != nil || again.LoadID != host.resp.LoadID || !bytes.Equal(again.MAC2, host.resp.MAC2) || !bytes.Equal(again.TxTime, host.resp.TxTime) {
		t.Fatalf("repeated init: %d %+v %v", status, again, err)
	}

	cm := &protocol.LoadConfirm{DeviceID: dev.ID, LoadID: host.resp.LoadID, CardNo: cardNo, OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)}
	bad := *cm
	bad.TAC = []byte{0, 0, 0, 0}
	_, e := confirm(t, tl, dev, &bad)
	wantCode(t, e, protocol.CodeMACInvalid)
	for range 2 { // idempotent
		resp, e := confirm(t, tl, dev, cm)
		if e != nil || resp.State != protocol.LoadCompleted || resp.LoadID != host.resp.LoadID {
			t.Fatalf("confirm: %+v %v", resp, e)
		}
	}
	// The kiosk journals the load; its TAC verifies at the ledger too.
	if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindLoad, CardNo: cardNo, Amount: 5000, BalanceBefore: int64(out.Auth.BalanceBefore),
		BalanceAfter: int64(out.BalanceAfter), CardCounter: uint32(out.Auth.OnlineCounter), TerminalID: termID[:], TxTime: host.resp.TxTime,
		CardSerial: out.Auth.CardSerial[:], KeyVersion: out.Auth.KeyVersion, Algorithm: byte(out.Auth.Algorithm), TAC: out.TAC[:]}); err != nil {
		t.Fatal(err)
	}
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 1)); e != nil {
		t.Fatal(e)
	}
	if d := device(t, tl, dev.ID); d.Stats.Loads != 5000 || d.Stats.TACVerified != 1 || d.Stats.TACBad != 0 {
		t.Errorf("kiosk stats %+v", d.Stats)
	}
	c, err := tl.CardInfo(cardNo)
	if err != nil || c.Balance != 15000 || c.OnlineCounter != uint32(out.Auth.OnlineCounter)+1 {
		t.Errorf("card at the ledger %+v %v", c, err)
	}
	left, _ := tl.PendingLoads(cardNo)
	if len(left) != 1 || left[0].Amount != 300 {
		t.Errorf("pending after the load %+v", left)
	}

	// No pending load of that amount: refused before CREDIT, the card keeps its money.
	out = epurse.Load(ctx, tm.card, host, epurse.LoadRequest{Amount: 700, Time: epurse.NewDateTime(clk.Now()), TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Refused {
		t.Fatalf("load without money waiting: %v", out.Kind)
	}
	var pe *protocol.Error
	if !errors.As(out.Err, &pe) || pe.Code != protocol.CodeNoPendingLoad {
		t.Errorf("refusal %v", out.Err)
	}

	// A MAC1 that is not the card's.
	factor := tm.pub.Factor()
	forged := &protocol.LoadInit{DeviceID: dev.ID, CardNo: cardNo, CardSerial: factor[:], TerminalID: termID[:], OnlineCounter: 7,
		BalanceBefore: 15000, Amount: 300, KeyIndex: 1, KeyVersion: 1, Random: []byte{1, 2, 3, 4}, MAC1: []byte{1, 2, 3, 4}}
	status, body = tl.Post(t, "/v1/loads/init", dev.Seal(t, forged))
	if status != http.StatusUnprocessableEntity {
		t.Errorf("forged MAC1: HTTP %d", status)
	}
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeMACInvalid)
	if left, _ := tl.PendingLoads(cardNo); len(left) != 1 {
		t.Errorf("a forged init took a pending load")
	}
}

func mustID(t *testing.T, s string) uint64 {
	t.Helper()
	var id uint64
	if _, err := fmt.Sscan(s, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestLoadInferredFromCounter: a load credited on the card whose
// confirmation never arrived is settled when the card's online counter
// shows it moved past that session.
func TestLoadInferredFromCounter(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "low")
	cardNo := tm.pub.CardNumber()
	first, _ := tl.AddLoad(cardNo, 1000, "bank")
	second, _ := tl.AddLoad(cardNo, 2000, "bank")
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo}
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x02}
	req := func(amount uint32) epurse.LoadRequest {
		clk.Advance(time.Minute)
		return epurse.LoadRequest{Amount: amount, Time: epurse.NewDateTime(clk.Now()), TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam}
	}
	if out := epurse.Load(context.Background(), tm.card, host, req(1000)); out.Kind != epurse.Done {
		t.Fatalf("first load: %v %v", out.Kind, out.Err)
	} // no confirmation: the kiosk lost its link
	if ld, _ := tl.LoadByID(first.ID); ld.State != ledger.LoadAuthorised {
		t.Fatalf("first load %s", ld.State)
	}
	if out := epurse.Load(context.Background(), tm.card, host, req(2000)); out.Kind != epurse.Done {
		t.Fatalf("second load: %v %v", out.Kind, out.Err)
	}
	ld, err := tl.LoadByID(first.ID)
	if err != nil || ld.State != ledger.LoadDone || !ld.Inferred || ld.BalanceAfter != 500+1000 {
		t.Fatalf("first load after the counter moved: %+v %v", ld, err)
	}
	if ld, _ := tl.LoadByID(second.ID); ld.State != ledger.LoadAuthorised || ld.BalanceBefore != 1500 {
		t.Errorf("second load %+v", ld)
	}
}

// TestLoadEverythingWaiting: a kiosk loads the total of the pending loads
// in one credit.
func TestLoadEverythingWaiting(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "student")
	cardNo := tm.pub.CardNumber()
	a, _ := tl.AddLoad(cardNo, 1000, "bank")
	b, _ := tl.AddLoad(cardNo, 250, "refund")
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo}
	out := epurse.Load(context.Background(), tm.card, host, epurse.LoadRequest{Amount: 1250, Time: epurse.NewDateTime(clk.Now()),
		TermID: [6]byte{0, 0, 0, 0, 0x4B, 0x03}, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Done {
		t.Fatalf("load: %v %v", out.Kind, out.Err)
	}
	resp, e := confirm(t, tl, dev, &protocol.LoadConfirm{DeviceID: dev.ID, LoadID: host.resp.LoadID, CardNo: cardNo,
		OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	if e != nil || resp.State != protocol.LoadCompleted {
		t.Fatalf("confirm %+v %v", resp, e)
	}
	// The merged loads themselves cannot be confirmed.
	_, e = confirm(t, tl, dev, &protocol.LoadConfirm{DeviceID: dev.ID, LoadID: fmt.Sprint(a.ID), CardNo: cardNo,
		OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	wantCode(t, e, protocol.CodeNoPendingLoad)
	merged := mustID(t, host.resp.LoadID)
	for _, id := range []uint64{a.ID, b.ID} {
		if ld, err := tl.LoadByID(id); err != nil || ld.State != ledger.LoadMerged || ld.MergedInto != merged {
			t.Errorf("load %d: %+v %v", id, ld, err)
		}
	}
	if left, _ := tl.PendingLoads(cardNo); len(left) != 0 {
		t.Errorf("still pending: %+v", left)
	}
}

// TestLoadReleasedAtSameCounter: a session authorised but never credited
// (the card left before CREDIT FOR LOAD) leaves the card at the same
// counter; asking for another amount puts the first load back in wait.
func TestLoadReleasedAtSameCounter(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "student")
	cardNo := tm.pub.CardNumber()
	big, _ := tl.AddLoad(cardNo, 3000, "bank")
	small, _ := tl.AddLoad(cardNo, 200, "bank")
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo}
	ctx := context.Background()
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x04}
	// INITIALIZE FOR LOAD and the ledger's MAC2, but no CREDIT.
	in, err := tm.initLoad(ctx, 3000, termID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.AuthorizeLoad(ctx, epurse.LoadAuthorization{CardSerial: tm.pub.Factor(), TermID: termID, Amount: 3000,
		Time: epurse.NewDateTime(clk.Now()), BalanceBefore: in.Balance, OnlineCounter: in.OnlineCounter, KeyVersion: in.KeyVersion,
		Algorithm: in.Algorithm, Random: in.Random, MAC1: in.MAC1}); err != nil {
		t.Fatal(err)
	}
	if ld, _ := tl.LoadByID(big.ID); ld.State != ledger.LoadAuthorised {
		t.Fatalf("big load %s", ld.State)
	}
	out := epurse.Load(ctx, tm.card, host, epurse.LoadRequest{Amount: 200, Time: epurse.NewDateTime(clk.Now()), TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Done || host.resp.LoadID != fmt.Sprint(small.ID) {
		t.Fatalf("small load: %v %v %s", out.Kind, out.Err, host.resp.LoadID)
	}
	if ld, _ := tl.LoadByID(big.ID); ld.State != ledger.LoadPending {
		t.Errorf("big load after the card came back at the same counter: %s", ld.State)
	}
	if left, _ := tl.PendingLoads(cardNo); len(left) != 1 || left[0].ID != big.ID {
		t.Errorf("pending %+v", left)
	}
}

// TestLoadKioskTime: the kiosk sends the time CREDIT FOR LOAD will carry
// and the ledger computes MAC2 over it, so the clocks need not agree to
// the second (they did before LoadInit.TxTime: the card refused MAC2).
func TestLoadKioskTime(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "student")
	cardNo := tm.pub.CardNumber()
	ld, _ := tl.AddLoad(cardNo, 3000, "bank")
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo, sendTime: true}
	ctx := context.Background()
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x05}
	kioskTime := epurse.NewDateTime(clk.Now().Add(-30 * time.Second)) // the kiosk's clock is 30 s behind
	out := epurse.Load(ctx, tm.card, host, epurse.LoadRequest{Amount: 3000, Time: kioskTime, TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Done {
		t.Fatalf("load with the clocks 30 s apart: %v %v", out.Kind, out.Err)
	}
	if !bytes.Equal(host.resp.TxTime, kioskTime[:]) {
		t.Fatalf("answer tx time %X, kiosk sent %X", host.resp.TxTime, kioskTime[:])
	}
	// A retry of the same init after the clock moved past the window: the
	// same answer (idempotent whatever the clock says), no second load.
	clk.Advance(10 * time.Minute)
	first := host.resp
	sent, _, err := protocol.OpenFromDevice[protocol.LoadInit](protocol.NewKeys(dev.Signer.PublicKey()), host.sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.directInit(&sent); err != nil || host.resp.LoadID != first.LoadID || !bytes.Equal(host.resp.MAC2, first.MAC2) {
		t.Fatalf("repeated init: %+v %v, first %+v", host.resp, err, first)
	}
	if left, _ := tl.PendingLoads(cardNo); len(left) != 0 {
		t.Fatalf("pending after the retry %+v", left)
	}
	resp, e := confirm(t, tl, dev, &protocol.LoadConfirm{DeviceID: dev.ID, LoadID: host.resp.LoadID, CardNo: cardNo,
		OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	if e != nil || resp.State != protocol.LoadCompleted || resp.LoadID != fmt.Sprint(ld.ID) {
		t.Fatalf("confirm: %+v %v", resp, e)
	}
	got, _ := tl.LoadByID(ld.ID)
	if got.State != ledger.LoadDone || !bytes.Equal(got.TxTime, kioskTime[:]) {
		t.Errorf("load %+v", got)
	}
}

// TestLoadKioskTimeWindow: a kiosk time more than protocol.LoadTimeSkew
// from the ledger's clock is refused as malformed and takes nothing.
func TestLoadKioskTimeWindow(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "student")
	cardNo := tm.pub.CardNumber()
	tl.AddLoad(cardNo, 1000, "bank")
	tl.AddLoad(cardNo, 2000, "bank")
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo, sendTime: true}
	ctx := context.Background()
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x06}
	load := func(amount uint32, off time.Duration) epurse.LoadOutcome {
		return epurse.Load(ctx, tm.card, host, epurse.LoadRequest{Amount: amount, Time: epurse.NewDateTime(clk.Now().Add(off)), TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	}
	for _, off := range []time.Duration{10 * time.Minute, -10 * time.Minute, protocol.LoadTimeSkew + time.Second, -protocol.LoadTimeSkew - time.Second} {
		out := load(1000, off)
		if out.Kind != epurse.Refused || !errors.Is(out.Err, ledger.ErrMalformed) {
			t.Fatalf("kiosk time %s off: %v %v", off, out.Kind, out.Err)
		}
		if left, _ := tl.PendingLoads(cardNo); len(left) != 2 {
			t.Fatalf("a refused init took a load: %+v", left)
		}
	}
	for _, off := range []time.Duration{protocol.LoadTimeSkew, -protocol.LoadTimeSkew} {
		amount := map[bool]uint32{true: 1000, false: 2000}[off > 0]
		if out := load(amount, off); out.Kind != epurse.Done {
			t.Fatalf("kiosk time %s off: %v %v", off, out.Kind, out.Err)
		}
	}
}

// TestLoadKioskTimeNewSession: the card comes back at the same counter for
// the same amount (the first session never reached CREDIT) with a new
// kiosk time: the authorised load moves to that time and its TAC verifies.
func TestLoadKioskTimeNewSession(t *testing.T) {
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", "student")
	cardNo := tm.pub.CardNumber()
	ld, _ := tl.AddLoad(cardNo, 700, "bank")
	host := &kioskHost{t: t, tl: tl, dev: dev, cardNo: cardNo, sendTime: true}
	ctx := context.Background()
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x07}
	in, err := tm.initLoad(ctx, 700, termID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.AuthorizeLoad(ctx, epurse.LoadAuthorization{CardSerial: tm.pub.Factor(), TermID: termID, Amount: 700,
		Time: epurse.NewDateTime(clk.Now()), BalanceBefore: in.Balance, OnlineCounter: in.OnlineCounter, KeyVersion: in.KeyVersion,
		Algorithm: in.Algorithm, Random: in.Random, MAC1: in.MAC1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	second := epurse.NewDateTime(clk.Now())
	out := epurse.Load(ctx, tm.card, host, epurse.LoadRequest{Amount: 700, Time: second, TermID: termID, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Done || host.resp.LoadID != fmt.Sprint(ld.ID) || !bytes.Equal(host.resp.TxTime, second[:]) {
		t.Fatalf("second session: %v %v %+v", out.Kind, out.Err, host.resp)
	}
	resp, e := confirm(t, tl, dev, &protocol.LoadConfirm{DeviceID: dev.ID, LoadID: host.resp.LoadID, CardNo: cardNo,
		OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	if e != nil || resp.State != protocol.LoadCompleted {
		t.Fatalf("confirm: %+v %v", resp, e)
	}
}

// TestInitLoadTxTimeMalformed: a tx time that is not a BCD date-time is
// refused before anything else.
func TestInitLoadTxTimeMalformed(t *testing.T) {
	tl, _ := start(t)
	_, err := tl.InitLoad(ledger.LoadInitParams{DeviceID: "kiosk-1", CardNo: "2024000001", Amount: 100,
		TxTime: []byte{0x20, 0x26, 0x02, 0x30, 0x12, 0, 0}})
	if !errors.Is(err, ledger.ErrMalformed) {
		t.Fatalf("InitLoad with 30 February: %v", err)
	}
}

// initLoad sends INITIALIZE FOR LOAD after the system PIN the terminal's
// SAM derives, as the card requires, without going on to CREDIT.
func (tm *terminal) initLoad(ctx context.Context, amount uint32, termID [6]byte) (epurse.LoadInit, error) {
	tm.t.Helper()
	prof := tm.card.c.Profile()
	pin, err := tm.sam.SystemPIN(ctx, epurse.SystemPINRequest{CardSerial: tm.pub.Factor(), KeyVersion: prof.KeyVersion, Algorithm: prof.Algorithm})
	if err != nil {
		return epurse.LoadInit{}, err
	}
	if err := epurse.VerifySystemPIN(ctx, tm.card, pin); err != nil {
		return epurse.LoadInit{}, err
	}
	return epurse.InitializeForLoad(ctx, tm.card, epurse.DefaultKeyIndex, amount, termID)
}
