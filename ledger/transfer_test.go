package ledger_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/bank"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// syncBuf is a log buffer for concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// transferRig: a ledger with the demo data set, its logs at debug level
// captured, a kiosk and a POS enrolled.
type transferRig struct {
	tl         *ledgertest.Ledger
	clk        *clock
	kiosk, pos *ledgertest.Device
	logs       *syncBuf
}

func newTransferRig(t *testing.T) *transferRig {
	t.Helper()
	clk := newClock()
	logs := &syncBuf{}
	tl := ledgertest.Start(t, ledgertest.Options{Now: clk.Now, Ledger: ledger.Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	if err := ledger.SeedDemo(tl.Ledger); err != nil { // again: nothing twice
		t.Fatal(err)
	}
	return &transferRig{tl: tl, clk: clk, kiosk: tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk), pos: tl.Enrol(t, "pos-1", protocol.DevicePOS), logs: logs}
}

func newRequestID(t *testing.T) []byte {
	id := make([]byte, protocol.RequestIDSize)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	return id
}

// transfer posts a TransferRequest from dev.
func (r *transferRig) transfer(t *testing.T, dev *ledgertest.Device, card string, id []byte, amount int64, pin string) (protocol.TransferResponse, *protocol.Error) {
	t.Helper()
	status, body := r.tl.Post(t, protocol.PathTransfer, dev.Seal(t, &protocol.TransferRequest{DeviceID: dev.ID, CardNo: card, RequestID: id, Amount: amount, PIN: protocol.SecretPIN(pin)}))
	if status != http.StatusOK {
		e := ledgertest.ErrorOf(body)
		if e == nil || status != e.Code.HTTPStatus() {
			t.Fatalf("HTTP %d, error %v", status, e)
		}
		return protocol.TransferResponse{}, e
	}
	resp, _, err := protocol.Open[protocol.TransferResponse](r.tl.Keys(), body, dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	return resp, nil
}

func (r *transferRig) simBank(t *testing.T) *bank.Simulated {
	t.Helper()
	b, ok := r.tl.Bank().(*bank.Simulated)
	if !ok {
		t.Fatal("not the simulated bank")
	}
	return b
}

// TestBankTransfer: 银校转账 with the holder's PIN credits the account,
// marked for loading, once per request id, and the kiosk loads it onto the
// strict virtual card at once.
func TestBankTransfer(t *testing.T) {
	r := newTransferRig(t)
	id := newRequestID(t)
	resp, e := r.transfer(t, r.kiosk, sim.DemoStudentNo, id, 20000, "123456")
	if e != nil || resp.Amount != 20000 || resp.Loadable != 25000 || resp.BankRef == "" {
		t.Fatalf("transfer %+v %v", resp, e)
	}
	again, e := r.transfer(t, r.kiosk, sim.DemoStudentNo, id, 20000, "123456")
	if e != nil || again != resp {
		t.Fatalf("retry %+v %v, first %+v", again, e, resp)
	}
	if bal, _ := r.simBank(t).Balance("6222020000000001"); bal != 80000 {
		t.Errorf("bank balance %d after one transfer asked twice", bal)
	}
	if a := account(t, r.tl, "S2026001"); a.Balance != 25000 || a.Loadable != 25000 {
		t.Errorf("account %+v", a)
	}
	// The kiosk claims it at once.
	tm := newTerminal(t, "kiosk-1", "student")
	host := &kioskHost{t: t, tl: r.tl, dev: r.kiosk, cardNo: sim.DemoStudentNo}
	out := epurse.Load(context.Background(), tm.card, host, epurse.LoadRequest{Amount: 20000, Time: epurse.NewDateTime(r.clk.Now()),
		TermID: [6]byte{0, 0, 0, 0, 0x4B, 0x41}, CardSerial: tm.pub.Factor(), PIN: tm.sam})
	if out.Kind != epurse.Done || out.BalanceAfter != 30000 {
		t.Fatalf("claim of the transfer: %v %v", out.Kind, out.Err)
	}
}

// TestBankTransferRefused: each refusal with its code, nothing moved: a
// wrong PIN (counted, then locked), funds short at the bank (also on a
// retry), the bank down (then done once on the retry), a device that is
// not a kiosk, an amount over the limit, a spend-only account, a card
// without an account.
func TestBankTransferRefused(t *testing.T) {
	r := newTransferRig(t)
	b := r.simBank(t)
	for i := 1; i <= 4; i++ {
		_, e := r.transfer(t, r.kiosk, sim.DemoStudentNo, newRequestID(t), 1000, "654321")
		wantCode(t, e, protocol.CodePINInvalid)
	}
	_, e := r.transfer(t, r.kiosk, sim.DemoStudentNo, newRequestID(t), 1000, "654321")
	wantCode(t, e, protocol.CodePINLocked)
	_, e = r.transfer(t, r.kiosk, sim.DemoStudentNo, newRequestID(t), 1000, "123456")
	wantCode(t, e, protocol.CodePINLocked) // locked: even the right PIN
	pin := "123456"
	if _, err := r.tl.SetAccount("S2026001", ledger.AccountChange{PIN: &pin}); err != nil {
		t.Fatal(err)
	}
	if _, e := r.transfer(t, r.kiosk, sim.DemoStudentNo, newRequestID(t), 1000, "123456"); e != nil {
		t.Fatalf("after the operator's new PIN: %v", e)
	}
	if bal, _ := b.Balance("6222020000000001"); bal != 99000 {
		t.Errorf("bank balance %d", bal)
	}

	short := newRequestID(t)
	for range 2 {
		_, e = r.transfer(t, r.kiosk, sim.DemoLowBalanceNo, short, 1000, "123456")
		wantCode(t, e, protocol.CodeBankRefused)
	}
	if a := account(t, r.tl, "S2026003"); a.Loadable != 2000 {
		t.Errorf("refused transfer credited: %+v", a)
	}

	b.SetDown(true)
	down := newRequestID(t)
	_, e = r.transfer(t, r.kiosk, sim.DemoStudentNo, down, 3000, "123456")
	wantCode(t, e, protocol.CodeBankUnavailable)
	if !e.Code.Retryable() {
		t.Error("bank-unavailable not retryable")
	}
	b.SetDown(false)
	if resp, e := r.transfer(t, r.kiosk, sim.DemoStudentNo, down, 3000, "123456"); e != nil || resp.Amount != 3000 {
		t.Fatalf("retry after the bank came back: %+v %v", resp, e)
	}
	if bal, _ := b.Balance("6222020000000001"); bal != 96000 {
		t.Errorf("bank balance %d", bal)
	}

	_, e = r.transfer(t, r.pos, sim.DemoStudentNo, newRequestID(t), 1000, "123456")
	wantCode(t, e, protocol.CodeMalformed)
	_, e = r.transfer(t, r.kiosk, sim.DemoStudentNo, newRequestID(t), ledger.DefaultMaxTransfer+1, "123456")
	wantCode(t, e, protocol.CodeAmountLimit)
	_, e = r.transfer(t, r.kiosk, sim.DemoStaffNo, newRequestID(t), 1000, "123456")
	wantCode(t, e, protocol.CodeSpendOnly)
	_, e = r.transfer(t, r.kiosk, "10012026090100000077", newRequestID(t), 1000, "123456")
	wantCode(t, e, protocol.CodeNoAccount)
	// A request id reused for another amount is not a retry.
	_, e = r.transfer(t, r.kiosk, sim.DemoStudentNo, down, 3001, "123456")
	wantCode(t, e, protocol.CodeMalformed)
}

// TestNoPINOrIDInLedgerFiles: after accounts with PINs and ID numbers,
// transfers with right and wrong PINs and PIN changes, neither a PIN nor
// an ID number is in any file of the ledger's data directory or in its
// logs (at debug level).
func TestNoPINOrIDInLedgerFiles(t *testing.T) {
	r := newTransferRig(t)
	const pin, wrong, newPIN, idNo = "739164", "582073", "415926", "11010519491231002X"
	if _, err := r.tl.AddAccount(ledger.AccountParams{ID: "P1", Card: "10012026090100000088", PIN: pin, NationalID: idNo, BankAccount: "6222020000000001"}); err != nil {
		t.Fatal(err)
	}
	r.transfer(t, r.kiosk, "10012026090100000088", newRequestID(t), 500, pin)
	r.transfer(t, r.kiosk, "10012026090100000088", newRequestID(t), 500, wrong)
	p := newPIN
	if _, err := r.tl.SetAccount("P1", ledger.AccountChange{PIN: &p}); err != nil {
		t.Fatal(err)
	}
	r.transfer(t, r.kiosk, "10012026090100000088", newRequestID(t), 500, newPIN)
	r.transfer(t, r.kiosk, sim.DemoStudentNo, newRequestID(t), 500, "123456")
	if rep, _ := r.tl.ShowAccount("P1"); rep.Account.Balance != 1000 || !rep.Account.IDSet {
		t.Fatalf("the transfers did not run: %+v", rep.Account)
	}
	r.tl.Restart() // everything on disk
	secrets := []string{pin, wrong, newPIN, idNo, strings.ToLower(idNo)}
	if strings.Count(r.logs.String(), "bank transfer done") != 3 {
		t.Fatalf("logs not captured:\n%s", r.logs.String())
	}
	for _, s := range secrets {
		if strings.Contains(r.logs.String(), s) {
			t.Errorf("the logs hold %q", s)
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

// TestSeedDemo: the demo data set covers the demo cards of reader/sim,
// with money to claim, the refusals to show and the bank accounts.
func TestSeedDemo(t *testing.T) {
	r := newTransferRig(t)
	want := map[string]struct {
		state    string
		loadable int64
		refusal  protocol.Code
	}{
		sim.DemoStudentNo:    {"normal", 5000, 0},
		sim.DemoLostNo:       {"lost", 0, protocol.CodeAccountLost},
		sim.DemoLowBalanceNo: {"normal", 2000, 0},
		sim.DemoStaffNo:      {"spend-only", 3000, protocol.CodeSpendOnly},
		sim.DemoExpiredNo:    {"normal", 1000, protocol.CodeAccountExpired},
	}
	for _, d := range sim.Catalogue() {
		w, ok := want[d.Profile.CardNo]
		if !ok {
			t.Errorf("demo card %s (%s) has no demo account", d.Name, d.Profile.CardNo)
			continue
		}
		rep, err := r.tl.ShowAccount(d.Profile.CardNo)
		if err != nil || string(rep.Account.State) != w.state || rep.Account.Loadable != w.loadable || !rep.Account.PINSet {
			t.Errorf("%s: %+v %v", d.Name, rep.Account, err)
		}
		if c := claims(t, r.tl, r.kiosk, d.Profile.CardNo, int64(d.Balance)); c.Refusal != w.refusal {
			t.Errorf("%s: claims %+v, want refusal %v", d.Name, c, w.refusal)
		}
	}
	if bal, err := r.simBank(t).Balance("6222020000000001"); err != nil || bal != 100000 {
		t.Errorf("the student's bank account: %d %v", bal, err)
	}
}
