package ledger_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/bank"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	bolt "go.etcd.io/bbolt"
)

// lossyBank is a simulated bank (in its own file, as a real bank is
// outside the ledger) whose answer can be lost after it debited: what a
// ledger killed between the bank's debit and its own record sees.
type lossyBank struct {
	*bank.Simulated
	lose atomic.Bool
}

func (b *lossyBank) Debit(ctx context.Context, t bank.Transfer) (bank.Receipt, error) {
	r, err := b.Simulated.Debit(ctx, t)
	if err == nil && b.lose.Load() {
		return bank.Receipt{}, bank.ErrUnavailable
	}
	return r, err
}

// TestResumeTransfers: the bank debited the holder and its answer never
// reached the ledger's record (the ledger was killed, and the kiosk that
// asked died too: nobody asks again). After the restart ResumeTransfers
// asks the bank again under the same reference: the account is credited
// once, the bank debited once, and a second call finds nothing to do.
func TestResumeTransfers(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "bank.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b := &lossyBank{Simulated: bank.NewSimulated(db, []byte("bank"))}
	clk := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Now: clk.Now, Ledger: ledger.Options{Bank: b}})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	if err := b.Open("6222020000000001", 100000); err != nil {
		t.Fatal(err)
	}
	kiosk := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	r := &transferRig{tl: tl, clk: clk, kiosk: kiosk}
	b.lose.Store(true)
	if _, e := r.transfer(t, kiosk, sim.DemoStudentNo, newRequestID(t), 20000, "123456"); e == nil || !errors.Is(e, protocol.ErrBankUnavailable) {
		t.Fatalf("transfer whose answer was lost: %v", e)
	}
	if bal, _ := b.Balance("6222020000000001"); bal != 80000 {
		t.Fatalf("bank balance %d: the bank did debit", bal)
	}
	if a := account(t, tl, "S2026001"); a.Balance != 5000 {
		t.Fatalf("account before the resume %+v", a)
	}
	b.lose.Store(false)
	tl.Restart()
	n, err := tl.ResumeTransfers(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	if a := account(t, tl, "S2026001"); a.Balance != 25000 || a.Loadable != 25000 {
		t.Fatalf("account after the resume %+v", a)
	}
	if n, err := tl.ResumeTransfers(context.Background()); err != nil || n != 0 {
		t.Fatalf("second resume: %d, %v", n, err)
	}
	if bal, _ := b.Balance("6222020000000001"); bal != 80000 {
		t.Fatalf("bank balance %d after the resume: debited twice", bal)
	}
}
