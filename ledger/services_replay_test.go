package ledger_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
)

// replayCase is one trade, its setup and its request.
type replayCase struct {
	name  string
	setup func(t *testing.T, r *svcRig)
	dev   func(r *svcRig) *ledgertest.Device
	req   func(t *testing.T, r *svcRig) *protocol.ServiceRequest
	acct  string
	card  string
	code  protocol.Code // the refusal expected, 0 done
}

func replayCases() []replayCase {
	kiosk := func(r *svcRig) *ledgertest.Device { return r.kiosk }
	desk := func(r *svcRig) *ledgertest.Device { return r.desk }
	lost := func(t *testing.T, r *svcRig) {
		m := r.req(t, r.kiosk, protocol.TradeReportLoss)
		m.Account, m.PIN = svcAcct, sp(svcPIN)
		r.ok(t, r.kiosk, m)
	}
	card := func(tr protocol.Trade, f func(*protocol.ServiceRequest)) func(t *testing.T, r *svcRig) *protocol.ServiceRequest {
		return func(t *testing.T, r *svcRig) *protocol.ServiceRequest {
			dev := r.kiosk
			if tr.DeskOnly() {
				dev = r.desk
			}
			m := r.req(t, dev, tr)
			m.CardNo = svcCard
			f(m)
			return m
		}
	}
	return []replayCase{
		{name: "change-pin", dev: kiosk, req: card(protocol.TradeChangePIN, func(m *protocol.ServiceRequest) { m.PIN, m.NewPIN = sp(svcPIN), sp("415926") })},
		{name: "change-pin wrong PIN", dev: kiosk, code: protocol.CodePINInvalid,
			req: card(protocol.TradeChangePIN, func(m *protocol.ServiceRequest) { m.PIN, m.NewPIN = sp("582073"), sp("415926") })},
		{name: "set-limit", dev: kiosk, req: card(protocol.TradeSetLimit, func(m *protocol.ServiceRequest) { m.PIN, m.TxLimit = sp(svcPIN), 9000 })},
		{name: "report-loss", dev: kiosk, req: func(t *testing.T, r *svcRig) *protocol.ServiceRequest {
			m := r.req(t, r.kiosk, protocol.TradeReportLoss)
			m.Account, m.PIN = svcAcct, sp(svcPIN)
			return m
		}},
		{name: "unfreeze", setup: lost, dev: kiosk,
			req: card(protocol.TradeUnfreeze, func(m *protocol.ServiceRequest) { m.PIN, m.NationalID = sp(svcPIN), protocol.SecretID(svcID) })},
		{name: "unfreeze wrong ID", setup: lost, dev: kiosk, code: protocol.CodeIDInvalid,
			req: card(protocol.TradeUnfreeze, func(m *protocol.ServiceRequest) {
				m.PIN, m.NationalID = sp(svcPIN), protocol.SecretID("37010219800101123X")
			})},
		{name: "reactivate", dev: kiosk, setup: func(t *testing.T, r *svcRig) {
			d := "dormant"
			if _, err := r.tl.SetAccount(svcAcct, ledger.AccountChange{State: &d}); err != nil {
				t.Fatal(err)
			}
		}, req: card(protocol.TradeReactivate, func(m *protocol.ServiceRequest) { m.PIN = sp(svcPIN) })},
		{name: "pay-fee", dev: kiosk, req: card(protocol.TradePayFee, func(m *protocol.ServiceRequest) {
			m.PIN, m.OrderID, m.Service, m.Reference, m.Amount = sp(svcPIN), "kiosk-1:0042", "electricity", "meter 7-1203", 2500
		})},
		{name: "pay-fee insufficient", dev: kiosk, code: protocol.CodeInsufficient, req: card(protocol.TradePayFee, func(m *protocol.ServiceRequest) {
			m.PIN, m.OrderID, m.Service, m.Reference, m.Amount = sp(svcPIN), "kiosk-1:0043", "net", "room 1", 10001
		})},
		{name: "fee-order", dev: kiosk, setup: func(t *testing.T, r *svcRig) {
			m := r.req(t, r.kiosk, protocol.TradePayFee)
			m.CardNo, m.PIN, m.OrderID, m.Service, m.Reference, m.Amount = svcCard, sp(svcPIN), "kiosk-1:0044", "net", "room 1", 100
			r.ok(t, r.kiosk, m)
		}, req: func(t *testing.T, r *svcRig) *protocol.ServiceRequest {
			m := r.req(t, r.kiosk, protocol.TradeFeeOrder)
			m.OrderID = "kiosk-1:0044"
			return m
		}},
		{name: "statement", dev: kiosk, req: card(protocol.TradeStatement, func(m *protocol.ServiceRequest) { m.PIN = sp(svcPIN) })},
		{name: "reset-pin", dev: desk, req: card(protocol.TradeResetPIN, func(m *protocol.ServiceRequest) { m.NewPIN = sp("415926") })},
		{name: "unblock", dev: desk, req: card(protocol.TradeUnblock, func(m *protocol.ServiceRequest) { m.Unblock = protocol.UnblockPIN | protocol.UnblockID })},
		{name: "close-account", dev: desk, acct: "S2026001", card: sim.DemoStudentNo, req: func(t *testing.T, r *svcRig) *protocol.ServiceRequest {
			tm := newTerminal(t, "desk-1", "student")
			m := r.req(t, r.desk, protocol.TradeCloseAccount)
			m.CardNo, m.Proof = sim.DemoStudentNo, initAnswer(t, tm, "desk-1", sim.DemoStudentNo, 1)
			return m
		}},
	}
}

// TestServiceReplay: every trade, done or refused, sent again with the
// same request id gets the same answer (byte for byte) or the same
// refusal and changes nothing at the ledger: account, movements, tries,
// pending writes, status list, service totals.
func TestServiceReplay(t *testing.T) {
	for _, tc := range replayCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := newSvcRig(t, ledger.Options{})
			if tc.setup != nil {
				tc.setup(t, r)
			}
			acct, card := svcAcct, svcCard
			if tc.acct != "" {
				acct, card = tc.acct, tc.card
			}
			dev := tc.dev(r)
			msg := dev.Seal(t, tc.req(t, r))
			first, e1 := post[protocol.ServiceAnswer](t, r.tl, dev, protocol.PathServices, msg)
			if (e1 == nil) != (tc.code == 0) || (e1 != nil && e1.Code != tc.code) {
				t.Fatalf("first: %v, want %v", e1, tc.code)
			}
			before := r.state(t, acct, card)
			r.clk.Advance(1)
			again, e2 := post[protocol.ServiceAnswer](t, r.tl, dev, protocol.PathServices, msg)
			if e1 != nil {
				if e2 == nil || *e2 != *e1 {
					t.Fatalf("replayed refusal %+v, first %+v", e2, e1)
				}
			} else if e2 != nil || !equalAnswers(t, first, again) {
				t.Fatalf("replay %+v %v, first %+v", again, e2, first)
			}
			if r.state(t, acct, card) != before {
				t.Fatal("the replay changed the ledger")
			}
		})
	}
}

// copyDir copies the regular files of dir (the ledger's database and keys
// as they are on disk at this moment: a ledger killed now).
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	for _, name := range []string{ledger.DBFile, ledger.KeyFile, ledger.HolderKeyFile} {
		in, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(out, name), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestServiceCrashReplay: the ledger commits a trade and dies before its
// answer leaves (the database copied as it is on disk, never closed); the
// ledger started on that file answers the device's retry with the same
// answer and the trade's effect once: a fee debited once, one pending
// write, one status-list version.
func TestServiceCrashReplay(t *testing.T) {
	for _, tc := range replayCases() {
		if tc.code != 0 || (tc.name != "pay-fee" && tc.name != "change-pin" && tc.name != "report-loss" && tc.name != "unfreeze") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			r := newSvcRig(t, ledger.Options{})
			if tc.setup != nil {
				tc.setup(t, r)
			}
			dev := tc.dev(r)
			req := tc.req(t, r)
			lostAnswer, err := r.tl.Service(context.Background(), dev.ID, *req)
			if err != nil {
				t.Fatal(err)
			}
			dir := copyDir(t, r.tl.Dir)
			after := r.state(t, svcAcct, svcCard)
			r2 := &svcRig{tl: ledgertest.Start(t, ledgertest.Options{Dir: dir, Now: r.clk.Now}), clk: r.clk}
			if got := r2.state(t, svcAcct, svcCard); got != after {
				t.Fatal("the copy is not the ledger's state after the commit")
			}
			again, e := post[protocol.ServiceAnswer](t, r2.tl, dev, protocol.PathServices, dev.Seal(t, req))
			if e != nil || !equalAnswers(t, lostAnswer, again) {
				t.Fatalf("retry after the crash: %+v %v, committed %+v", again, e, lostAnswer)
			}
			if r2.state(t, svcAcct, svcCard) != after {
				t.Fatal("the retry after the crash did the trade again")
			}
		})
	}
}

// TestServicesKeepNoSecrets: after every trade that carries a PIN or an
// ID number, right and wrong ones, none of them is in the ledger's logs
// (debug level), in a refusal's message or in any file of its data
// directory.
func TestServicesKeepNoSecrets(t *testing.T) {
	r := newSvcRig(t, ledger.Options{})
	const newPIN, wrongPIN, wrongID, resetPIN = "415926", "582073", "37010219800101123X", "864209"
	var msgs []string
	try := func(m *protocol.ServiceRequest, dev *ledgertest.Device) {
		_, e := r.svc(t, dev, m)
		if e != nil {
			msgs = append(msgs, e.Message)
		}
	}
	for _, pin := range []string{wrongPIN, svcPIN} {
		m := r.req(t, r.kiosk, protocol.TradeChangePIN)
		m.CardNo, m.PIN, m.NewPIN = svcCard, sp(pin), sp(newPIN)
		try(m, r.kiosk)
	}
	r.written(t, r.kiosk, r.pending(t, r.kiosk, svcCard)[0])
	loss := r.req(t, r.kiosk, protocol.TradeReportLoss)
	loss.Account, loss.PIN = svcAcct, sp(newPIN)
	try(loss, r.kiosk)
	for _, id := range []string{wrongID, svcID} {
		m := r.req(t, r.kiosk, protocol.TradeUnfreeze)
		m.CardNo, m.PIN, m.NationalID = svcCard, sp(newPIN), protocol.SecretID(id)
		try(m, r.kiosk)
	}
	r.written(t, r.kiosk, r.pending(t, r.kiosk, svcCard)[0])
	reset := r.req(t, r.desk, protocol.TradeResetPIN)
	reset.CardNo, reset.NewPIN = svcCard, sp(resetPIN)
	try(reset, r.desk)
	fee := r.req(t, r.kiosk, protocol.TradePayFee)
	fee.CardNo, fee.PIN, fee.OrderID, fee.Service, fee.Reference, fee.Amount = svcCard, sp(newPIN), "k1:1", "net", "room 9", 100
	try(fee, r.kiosk)
	if len(msgs) != 2 || account(t, r.tl, svcAcct).Balance != 9900 {
		t.Fatalf("the trades did not run as planned: %q", msgs)
	}
	r.tl.Restart()
	secrets := []string{svcPIN, newPIN, wrongPIN, resetPIN, svcID, strings.ToLower(svcID), wrongID, strings.ToLower(wrongID)}
	logs := r.logs.String()
	if !strings.Contains(logs, "service trade") || !strings.Contains(logs, "card write reported") {
		t.Fatalf("logs not captured:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q", s)
		}
		for _, m := range msgs {
			if strings.Contains(m, s) {
				t.Errorf("a refusal holds %q: %s", s, m)
			}
		}
	}
	err := filepath.Walk(r.tl.Dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Mode()&os.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
