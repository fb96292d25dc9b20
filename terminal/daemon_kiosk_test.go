package terminal_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// kioskRig is a kiosk daemon on a virtual reader with its control
// interface, enrolled at a real ledger on loopback seeded with the demo
// accounts.
type kioskRig struct {
	t    *testing.T
	d    *terminal.Daemon
	tl   *ledgertest.Ledger
	rdr  *sim.Reader
	disp *uitest.Sim
	logs *testbuf.Buffer
	ctl  *terminal.ControlClient
	ctx  context.Context
	dir  string
}

func startKiosk(t *testing.T, auto bool) *kioskRig {
	t.Helper()
	tl := ledgertest.Start(t, ledgertest.Options{Ledger: ledger.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	const id = "kiosk-daemon-01"
	dev := tl.Enrol(t, id, protocol.DeviceKiosk)
	dir := t.TempDir()
	store, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{DeviceID: id, Clock: offlinetest.NewClock(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	client, err := syncclient.New(syncclient.Options{Ledger: tl.URL, DeviceID: dev.ID, Signer: dev.Signer, LedgerKeys: tl.Keys(),
		Kind: protocol.DeviceKiosk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Device: config.Device{ID: id, Kind: config.KindKiosk, Timezone: "UTC", DataDir: dir},
		Control: config.Control{Listen: "127.0.0.1:0"}}
	cfg.Kiosk.AutoClaim = &auto
	cfg.Kiosk.Defaults()
	r := &kioskRig{t: t, tl: tl, rdr: sim.NewReader("sim:kiosk", reader.TechISO14443A), disp: uitest.New(),
		logs: &testbuf.Buffer{}, ctx: context.Background(), dir: dir}
	r.d, err = terminal.NewDaemon(cfg, terminal.DaemonDeps{Store: store, Readers: []reader.Reader{r.rdr}, SAM: s,
		Display: r.disp, Ledger: client, Logger: slog.New(slog.NewTextHandler(r.logs, nil))})
	if err != nil {
		_ = store.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if r.ctl, err = terminal.NewControlClient(dir, r.d.ControlAddr()); err != nil {
		t.Fatal(err)
	}
	return r
}

// place puts card on the reader and waits for the session to open.
func (r *kioskRig) place(card *sim.Card) kiosk.View {
	r.t.Helper()
	r.rdr.Tap(card)
	return r.await("a session", func(v kiosk.View) bool { return v.State == "card" && !v.Busy })
}

func (r *kioskRig) await(what string, ok func(kiosk.View) bool) kiosk.View {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var v kiosk.View
	for time.Now().Before(deadline) {
		if err := r.ctl.Get(r.ctx, "/v1/kiosk", &v); err != nil {
			r.t.Fatal(err)
		}
		if ok(v) {
			return v
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("the kiosk never showed %s: %+v", what, v)
	return v
}

func (r *kioskRig) step(path string, body map[string]any) (terminal.KioskAnswer, error) {
	var a terminal.KioskAnswer
	err := r.ctl.Post(r.ctx, path, body, &a)
	return a, err
}

func (r *kioskRig) account(id string) accounts.View {
	r.t.Helper()
	rep, err := r.tl.ShowAccount(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return rep.Account
}

// TestKioskDaemonSession drives the kiosk's session through the control
// interface, as its page does: the student's card opens a session that
// shows the 50.00 waiting, a claim of it, a transfer refused for a wrong
// PIN (the card counts it), a transfer of 100.00 loaded at once, the
// session ended by the holder; each step is on /v1/taps and the ledger's
// account and the card agree. No PIN appears in the log or the answers.
func TestKioskDaemonSession(t *testing.T) {
	r := startKiosk(t, false)
	card := demoCard(t, "student", "", 0)
	v := r.place(card)
	if v.Card != sim.DemoStudentNo || v.Balance != 10000 || !v.LedgerOK || v.Loadable != 5000 || v.Claimable != 5000 ||
		strings.Join(v.Services, ",") != "claim,transfer,change-pin,set-limit,unfreeze,reactivate,pay-fee,statement" {
		t.Fatalf("session %+v", v)
	}
	if m := lastOf(r.disp.Shown()); m.Amount != 5000 || !strings.Contains(m.ZH, "待领取") {
		t.Fatalf("display %+v", m)
	}
	if _, err := r.step("/v1/kiosk/claim", map[string]any{"session": "not-it"}); !isControlError(err, http.StatusNotFound, terminal.CtlNoSession) {
		t.Fatalf("claim of another session: %v", err)
	}
	a, err := r.step("/v1/kiosk/claim", map[string]any{"session": v.ID})
	if err != nil || a.Outcome != kiosk.Loaded || a.Amount != 5000 || a.Balance != 15000 || balance(card) != 15000 {
		t.Fatalf("claim %+v %v (card %d)", a, err, balance(card))
	}
	a, err = r.step("/v1/kiosk/transfer", map[string]any{"session": v.ID, "amount": 10000, "pin": "654321"})
	if err != nil || a.Code != kiosk.CodeWrongPIN || a.TriesLeft != 2 || balance(card) != 15000 {
		t.Fatalf("transfer with a wrong PIN %+v %v", a, err)
	}
	if _, err := r.step("/v1/kiosk/transfer", map[string]any{"session": v.ID, "amount": 10000, "pin": "12"}); !isControlError(err, http.StatusBadRequest, terminal.CtlBadRequest) {
		t.Fatalf("a two-digit PIN: %v", err)
	}
	a, err = r.step("/v1/kiosk/transfer", map[string]any{"session": v.ID, "amount": 10000, "pin": "123456"})
	if err != nil || a.Outcome != kiosk.Loaded || a.TransferID == "" || a.Amount != 10000 || balance(card) != 25000 {
		t.Fatalf("transfer %+v %v (card %d)", a, err, balance(card))
	}
	if acct := r.account("S2026001"); acct.Balance != 0 || acct.Loadable != 0 || acct.Authorised != 0 {
		t.Fatalf("account after %+v", acct)
	}
	v = r.await("the transfer", func(v kiosk.View) bool { return v.Last != nil && v.Last.Service == "transfer" })
	if v.Balance != 25000 || v.Loadable != 0 {
		t.Fatalf("session after the transfer %+v", v)
	}
	var idle kiosk.View
	if err := r.ctl.Post(r.ctx, "/v1/kiosk/end", map[string]any{"session": v.ID}, &idle); err != nil || idle.State != "idle" {
		t.Fatalf("end %+v %v", idle, err)
	}
	taps, err := r.ctl.Taps(r.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, tp := range taps {
		if tp.Flow != "kiosk" {
			t.Fatalf("tap %+v", tp)
		}
		services = append(services, tp.Service+":"+tp.Code)
	}
	if got := strings.Join(services, " "); got != "open:kiosk_session claim:loaded transfer:wrong_pin transfer:loaded" {
		t.Fatalf("taps %s", got)
	}
	for _, pin := range []string{"123456", "654321"} {
		if strings.Contains(r.logs.String(), pin) {
			t.Fatalf("the log holds a PIN %s", pin)
		}
	}
}

// TestKioskDaemonAutoClaimAndTimeout: with auto_claim a card claims what
// waits as it is placed; a refused account (spend-only) loads nothing;
// the card leaving ends the session.
func TestKioskDaemonAutoClaim(t *testing.T) {
	r := startKiosk(t, true)
	card := demoCard(t, "student", "", 0)
	v := r.place(card)
	if v.Last == nil || v.Last.Service != "claim" || v.Last.Outcome != kiosk.Loaded || v.Balance != 15000 || balance(card) != 15000 {
		t.Fatalf("auto claim %+v", v)
	}
	n := 0
	for _, m := range r.disp.Shown() {
		if m.Code == kiosk.CodeLoaded {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the credit shown %d times, want once", n)
	}
	r.rdr.Remove()
	r.await("idle", func(v kiosk.View) bool { return v.State == "idle" })
	staff := demoCard(t, "staff", "", 0)
	before := balance(staff)
	v = r.place(staff)
	if balance(staff) != before || v.Last == nil || v.Last.Outcome == kiosk.Loaded {
		t.Fatalf("spend-only account: %+v (card %d)", v, balance(staff))
	}
	if acct := r.account("T2020004"); acct.Loadable != 3000 {
		t.Fatalf("spend-only account after %+v", acct)
	}
}

func isControlError(err error, status int, code string) bool {
	var ce *terminal.ControlError
	return errors.As(err, &ce) && ce.Status == status && ce.Code == code
}

// TestKioskDaemonServices: the self-service over the control interface:
// 查询 and 调整限额 on the session's card (the card and the ledger hold the
// new limit), 挂失 without the card, a malformed body refused before
// anything; no PIN in the log or an answer.
func TestKioskDaemonServices(t *testing.T) {
	r := startKiosk(t, false)
	card := demoCard(t, "student", "", 0)
	v := r.place(card)
	a, err := r.step("/v1/kiosk/service", map[string]any{"session": v.ID, "trade": "statement", "pin": "123456", "count": 3})
	if err != nil || a.Code != kiosk.CodeStatement || a.Statement == nil || a.Statement.Account != "S2026001" {
		t.Fatalf("statement %+v %v", a, err)
	}
	a, err = r.step("/v1/kiosk/service", map[string]any{"session": v.ID, "trade": "set-limit", "pin": "123456", "tx_limit": 2000})
	if err != nil || a.Code != kiosk.CodeLimitSet || len(a.Writes) != 1 || a.Writes[0].Outcome != "written" || !strings.Contains(a.Message, "限额已调整") {
		t.Fatalf("set limit %+v %v", a, err)
	}
	if acct := r.account("S2026001"); acct.TxLimit != 2000 {
		t.Fatalf("the ledger's limit %d", acct.TxLimit)
	}
	if _, err := r.step("/v1/kiosk/service", map[string]any{"session": v.ID, "trade": "close-account", "pin": "123456"}); !isControlError(err, http.StatusBadRequest, terminal.CtlBadRequest) {
		t.Fatalf("a desk trade at a kiosk: %v", err)
	}
	var loss terminal.KioskAnswer
	if err := r.ctl.Post(r.ctx, "/v1/kiosk/report-loss", map[string]any{"account": "S2026001", "pin": "123456"}, &loss); err != nil || loss.Code != kiosk.CodeLossReported {
		t.Fatalf("report loss %+v %v", loss, err)
	}
	if err := r.ctl.Post(r.ctx, "/v1/kiosk/report-loss", map[string]any{"account": "S2026001", "pin": "123456", "x": 1}, &loss); !isControlError(err, http.StatusBadRequest, terminal.CtlBadRequest) {
		t.Fatalf("an unknown field: %v", err)
	}
	if strings.Contains(r.logs.String(), "123456") {
		t.Fatal("the log holds the PIN")
	}
}
