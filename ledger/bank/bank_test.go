package bank_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/ledger/bank"
	bolt "go.etcd.io/bbolt"
)

// TestSimulated: a transfer debits once per reference, refuses when funds
// are short or the account unknown, and is unavailable when down.
func TestSimulated(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "b.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := bank.NewSimulated(db, []byte("simbank"))
	ctx := context.Background()
	if err := b.Open("6222-1", 10000); err != nil {
		t.Fatal(err)
	}
	r1, err := b.Debit(ctx, bank.Transfer{Ref: "T-1", Account: "6222-1", Amount: 3000})
	if err != nil || r1.Amount != 3000 || r1.BankRef == "" {
		t.Fatalf("debit %+v %v", r1, err)
	}
	r2, err := b.Debit(ctx, bank.Transfer{Ref: "T-1", Account: "6222-1", Amount: 3000})
	if err != nil || r2 != r1 {
		t.Fatalf("repeat %+v %v", r2, err)
	}
	if bal, _ := b.Balance("6222-1"); bal != 7000 {
		t.Errorf("balance %d after one transfer asked twice", bal)
	}
	if _, err := b.Debit(ctx, bank.Transfer{Ref: "T-2", Account: "6222-1", Amount: 7001}); !errors.Is(err, bank.ErrInsufficient) {
		t.Errorf("short: %v", err)
	}
	if _, err := b.Debit(ctx, bank.Transfer{Ref: "T-3", Account: "nope", Amount: 1}); !errors.Is(err, bank.ErrUnknownAccount) {
		t.Errorf("unknown: %v", err)
	}
	b.SetDown(true)
	if _, err := b.Debit(ctx, bank.Transfer{Ref: "T-4", Account: "6222-1", Amount: 1}); !errors.Is(err, bank.ErrUnavailable) {
		t.Errorf("down: %v", err)
	}
	b.SetDown(false)
	if bal, _ := b.Balance("6222-1"); bal != 7000 {
		t.Errorf("balance %d", bal)
	}
}
