package syncclient_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

const loadDevice = "kiosk-library-1"

func newSigner(t *testing.T, kid string) *protocol.Signer {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.NewSigner(kid, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadLedger is the ledger's side of the load endpoints as the wire
// contract has it: requests verified under the device key, answers sealed
// by the ledger key (or by answerKey when a test swaps it), refusals an
// unsigned Error body. answer decides what to say to each request.
type loadLedger struct {
	t         *testing.T
	dev       protocol.Keys
	key       *protocol.Signer
	answerKey *protocol.Signer
	answer    func(req any) (protocol.Message, *protocol.Error)

	mu  sync.Mutex
	got []any // the requests received, decoded
}

func (l *loadLedger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		l.t.Error(err)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != protocol.MediaTypeCOSE {
		l.t.Errorf("request content type %q", ct)
	}
	var req any
	switch r.URL.Path {
	case protocol.PathPending:
		m, _, err := protocol.OpenFromDevice[protocol.PendingRequest](l.dev, raw)
		req = m
		l.check(err)
	case protocol.PathLoadInit:
		m, _, err := protocol.OpenFromDevice[protocol.LoadInit](l.dev, raw)
		req = m
		l.check(err)
	case protocol.PathLoadConfirm:
		m, _, err := protocol.OpenFromDevice[protocol.LoadConfirm](l.dev, raw)
		req = m
		l.check(err)
	default:
		http.NotFound(w, r)
		return
	}
	l.mu.Lock()
	l.got = append(l.got, req)
	l.mu.Unlock()
	msg, perr := l.answer(req)
	if perr != nil {
		b, err := protocol.EncodeError(perr)
		if err != nil {
			l.t.Error(err)
		}
		w.Header().Set("Content-Type", protocol.MediaTypeError)
		w.WriteHeader(perr.Code.HTTPStatus())
		w.Write(b)
		return
	}
	key := l.key
	if l.answerKey != nil {
		key = l.answerKey
	}
	b, err := protocol.Seal(key, msg, loadDevice)
	if err != nil {
		l.t.Error(err)
	}
	w.Header().Set("Content-Type", protocol.MediaTypeCOSE)
	w.Write(b)
}

func (l *loadLedger) check(err error) {
	if err != nil {
		l.t.Errorf("request does not verify: %v", err)
	}
}

func (l *loadLedger) requests() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.got...)
}

// startLoadLedger serves a loadLedger and returns it with a client of the
// device whose ledger key is pinned (enrolled = true) or not.
func startLoadLedger(t *testing.T, enrolled bool) (*loadLedger, *syncclient.Client) {
	t.Helper()
	dev := newSigner(t, loadDevice)
	l := &loadLedger{t: t, dev: protocol.NewKeys(dev.PublicKey()), key: newSigner(t, "ledger-1")}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	opts := syncclient.Options{Ledger: srv.URL, DeviceID: loadDevice, Signer: dev, Kind: protocol.DeviceKiosk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if enrolled {
		opts.LedgerKeys = protocol.NewKeys(l.key.PublicKey())
	}
	c, err := syncclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

var kioskTime = []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x30, 0x05}

func loadInit() protocol.LoadInit {
	return protocol.LoadInit{CardNo: "2024000123", CardSerial: make([]byte, 8), TerminalID: []byte{0, 0, 0, 0, 0x4B, 1},
		OnlineCounter: 3, BalanceBefore: 500, Amount: 3000, KeyIndex: 1, KeyVersion: 1, Random: []byte{1, 2, 3, 4},
		MAC1: []byte{5, 6, 7, 8}, TxTime: kioskTime}
}

// honest answers as a ledger does: the loads waiting, MAC2 over the
// kiosk's time, the load completed.
func honest(req any) (protocol.Message, *protocol.Error) {
	switch m := req.(type) {
	case protocol.PendingRequest:
		return &protocol.Pending{CardNo: m.CardNo, Loads: []protocol.PendingLoad{{LoadID: "7", Amount: 3000, Created: 1_790_000_000_000}}}, nil
	case protocol.LoadInit:
		return &protocol.LoadInitResponse{LoadID: "7", Amount: m.Amount, TxTime: m.TxTime, MAC2: []byte{9, 8, 7, 6}}, nil
	case protocol.LoadConfirm:
		return &protocol.LoadConfirmResponse{LoadID: m.LoadID, State: protocol.LoadCompleted}, nil
	}
	return nil, protocol.Errorf(protocol.CodeMalformed, "unexpected")
}

func TestLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, c := startLoadLedger(t, true)
	l.answer = honest

	p, err := c.Pending(ctx, "2024000123")
	if err != nil || p.CardNo != "2024000123" || p.Total() != 3000 || p.Loads[0].LoadID != "7" {
		t.Fatalf("Pending = %+v, %v", p, err)
	}
	resp, err := c.InitLoad(ctx, loadInit())
	if err != nil || resp.LoadID != "7" || !bytes.Equal(resp.MAC2, []byte{9, 8, 7, 6}) || !bytes.Equal(resp.TxTime, kioskTime) {
		t.Fatalf("InitLoad = %+v, %v", resp, err)
	}
	cr, err := c.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: resp.LoadID, CardNo: "2024000123", OnlineCounter: 3, TAC: []byte{1, 1, 1, 1}, BalanceAfter: 3500})
	if err != nil || cr.State != protocol.LoadCompleted || cr.LoadID != "7" {
		t.Fatalf("ConfirmLoad = %+v, %v", cr, err)
	}

	got := l.requests()
	if len(got) != 3 {
		t.Fatalf("ledger got %d requests", len(got))
	}
	if r := got[0].(protocol.PendingRequest); r.DeviceID != loadDevice || r.CardNo != "2024000123" {
		t.Errorf("pending request %+v", r)
	}
	if r := got[1].(protocol.LoadInit); r.DeviceID != loadDevice || !bytes.Equal(r.TxTime, kioskTime) || !bytes.Equal(r.MAC1, []byte{5, 6, 7, 8}) {
		t.Errorf("load init %+v", r)
	}
	if r := got[2].(protocol.LoadConfirm); r.DeviceID != loadDevice || r.BalanceAfter != 3500 || !bytes.Equal(r.TAC, []byte{1, 1, 1, 1}) {
		t.Errorf("load confirm %+v", r)
	}

	// Without the kiosk's time the ledger's is taken as it comes.
	l.answer = func(req any) (protocol.Message, *protocol.Error) {
		m := req.(protocol.LoadInit)
		return &protocol.LoadInitResponse{LoadID: "8", Amount: m.Amount, TxTime: []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x31, 0}, MAC2: make([]byte, 4)}, nil
	}
	m := loadInit()
	m.TxTime = nil
	if resp, err := c.InitLoad(ctx, m); err != nil || resp.TxTime[6] != 0 || resp.TxTime[5] != 0x31 {
		t.Fatalf("InitLoad without a time = %+v, %v", resp, err)
	}
}

// TestLoadRefused: the ledger's refusals come back as protocol's sentinels.
func TestLoadRefused(t *testing.T) {
	ctx := context.Background()
	l, c := startLoadLedger(t, true)
	for code, want := range map[protocol.Code]error{
		protocol.CodeMACInvalid:    protocol.ErrMACInvalid,
		protocol.CodeNoPendingLoad: protocol.ErrNoPendingLoad,
		protocol.CodeMalformed:     protocol.ErrMalformed,
	} {
		l.answer = func(any) (protocol.Message, *protocol.Error) { return nil, protocol.Errorf(code, "refused") }
		if _, err := c.InitLoad(ctx, loadInit()); !errors.Is(err, want) {
			t.Errorf("InitLoad refused with %v: %v", code, err)
		}
		if _, err := c.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: "7", CardNo: "1", TAC: make([]byte, 4)}); !errors.Is(err, want) {
			t.Errorf("ConfirmLoad refused with %v: %v", code, err)
		}
		if _, err := c.Pending(ctx, "1"); !errors.Is(err, want) {
			t.Errorf("Pending refused with %v: %v", code, err)
		}
	}
	l.answer = func(any) (protocol.Message, *protocol.Error) {
		return nil, protocol.Errorf(protocol.CodeRevoked, "revoked")
	}
	// A revoked kiosk loads nothing; the answer is not fatal to Run, whose
	// rounds go on uploading the journal for collection.
	if _, err := c.InitLoad(ctx, loadInit()); !errors.Is(err, protocol.ErrRevoked) || !errors.Is(err, syncclient.ErrDeviceRevoked) || syncclient.IsFatal(err) {
		t.Errorf("revoked device: %v", err)
	}
	if !c.Revoked() {
		t.Error("the client does not know it is revoked")
	}
}

// TestLoadAnswerChecked: answers not signed by the pinned ledger key, or
// that do not answer what was asked, are refused.
func TestLoadAnswerChecked(t *testing.T) {
	ctx := context.Background()
	l, c := startLoadLedger(t, true)
	l.answer = honest
	l.answerKey = newSigner(t, "ledger-1") // same kid, another key
	if _, err := c.InitLoad(ctx, loadInit()); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("InitLoad answer under another key: %v", err)
	}
	if _, err := c.Pending(ctx, "2024000123"); !errors.Is(err, protocol.ErrBadSignature) {
		t.Errorf("Pending answer under another key: %v", err)
	}
	l.answerKey = nil

	for name, answer := range map[string]func(any) (protocol.Message, *protocol.Error){
		"other time": func(req any) (protocol.Message, *protocol.Error) {
			m := req.(protocol.LoadInit)
			return &protocol.LoadInitResponse{LoadID: "7", Amount: m.Amount, TxTime: []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x30, 0x35}, MAC2: make([]byte, 4)}, nil
		},
		"other amount": func(req any) (protocol.Message, *protocol.Error) {
			m := req.(protocol.LoadInit)
			return &protocol.LoadInitResponse{LoadID: "7", Amount: m.Amount + 1, TxTime: m.TxTime, MAC2: make([]byte, 4)}, nil
		},
	} {
		l.answer = answer
		if _, err := c.InitLoad(ctx, loadInit()); !errors.Is(err, syncclient.ErrLoadMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	l.answer = func(any) (protocol.Message, *protocol.Error) {
		return &protocol.LoadConfirmResponse{LoadID: "6", State: protocol.LoadCompleted}, nil
	}
	if _, err := c.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: "7", CardNo: "1", TAC: make([]byte, 4)}); !errors.Is(err, syncclient.ErrLoadMismatch) {
		t.Errorf("confirmation of another load: %v", err)
	}
	l.answer = func(any) (protocol.Message, *protocol.Error) { return &protocol.Pending{CardNo: "2024000999"}, nil }
	if _, err := c.Pending(ctx, "2024000123"); !errors.Is(err, syncclient.ErrLoadMismatch) {
		t.Errorf("pending of another card: %v", err)
	}
	// A message for another device is refused before it is sent.
	m := loadInit()
	m.DeviceID = "kiosk-other"
	n := len(l.requests())
	if _, err := c.InitLoad(ctx, m); err == nil || len(l.requests()) != n {
		t.Errorf("load init of another device: %v", err)
	}
}

func TestLoadNotEnrolled(t *testing.T) {
	ctx := context.Background()
	l, c := startLoadLedger(t, false)
	l.answer = honest
	if _, err := c.Pending(ctx, "1"); !errors.Is(err, syncclient.ErrNotEnrolled) {
		t.Errorf("Pending: %v", err)
	}
	if _, err := c.InitLoad(ctx, loadInit()); !errors.Is(err, syncclient.ErrNotEnrolled) {
		t.Errorf("InitLoad: %v", err)
	}
	if _, err := c.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: "7", CardNo: "1", TAC: make([]byte, 4)}); !errors.Is(err, syncclient.ErrNotEnrolled) {
		t.Errorf("ConfirmLoad: %v", err)
	}
	if len(l.requests()) != 0 {
		t.Errorf("requests sent before enrolment")
	}
}
