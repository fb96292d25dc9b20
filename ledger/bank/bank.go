// Package bank is the ledger's bank adapter for 银校转账 (bank to campus
// card transfers): Bank is what the ledger asks of a bank, Simulated the
// reference ledger's bank, whose accounts live in the ledger's own store.
// A campus plugs its bank's interface in behind Bank.
package bank

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Errors of a bank; match them with errors.Is.
var (
	// ErrInsufficient: the bank account holds less than the transfer.
	ErrInsufficient = errors.New("bank: insufficient funds")
	// ErrUnknownAccount: no such bank account (or it is closed).
	ErrUnknownAccount = errors.New("bank: unknown account")
	// ErrUnavailable: the bank did not answer; the same transfer (same
	// Ref) may be asked again and is done at most once.
	ErrUnavailable = errors.New("bank: unavailable")
)

// Transfer is a debit of a bank account for a campus account.
type Transfer struct {
	// Ref is the ledger's reference of the transfer: the bank does a
	// transfer of a Ref at most once and answers a repeat with the same
	// receipt.
	Ref     string
	Account string // the bank account
	Amount  int64  // fen, > 0
}

// Receipt is the bank's answer to a done transfer.
type Receipt struct {
	Ref     string `json:"ref"`
	BankRef string `json:"bank_ref"`
	Amount  int64  `json:"amount"`
}

// Bank debits bank accounts for the ledger. Debit is idempotent by Ref.
type Bank interface {
	Debit(ctx context.Context, t Transfer) (Receipt, error)
}

// Simulated is a bank whose accounts are in a bucket of a bbolt database
// (the ledger's): it refuses when funds are short and keeps every receipt
// by Ref. It is safe for concurrent use.
type Simulated struct {
	db     *bolt.DB
	bucket []byte
	down   atomic.Bool
}

var _ Bank = (*Simulated)(nil)

// NewSimulated returns the simulated bank in bucket of db (created if
// needed on the first write).
func NewSimulated(db *bolt.DB, bucket []byte) *Simulated {
	return &Simulated{db: db, bucket: bucket}
}

type simAccount struct {
	Balance int64 `json:"balance"`
}

func acctKey(no string) []byte { return []byte("acct:" + no) }
func refKey(ref string) []byte { return []byte("ref:" + ref) }

// SetDown makes the bank unavailable (true) or back (false): the rig's
// "bank down" fault.
func (s *Simulated) SetDown(down bool) { s.down.Store(down) }

// Open sets bank account no's balance (fen), creating it.
func (s *Simulated) Open(no string, balance int64) error {
	if no == "" || len(no) > 64 || balance < 0 {
		return fmt.Errorf("bank: open %q with %d: invalid", no, balance)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		v, _ := json.Marshal(simAccount{Balance: balance})
		return b.Put(acctKey(no), v)
	})
}

// Balance returns bank account no's balance (ErrUnknownAccount).
func (s *Simulated) Balance(no string) (int64, error) {
	var a simAccount
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(s.bucket)
		if b == nil || b.Get(acctKey(no)) == nil {
			return fmt.Errorf("bank: account %q: %w", no, ErrUnknownAccount)
		}
		return json.Unmarshal(b.Get(acctKey(no)), &a)
	})
	return a.Balance, err
}

// Debit takes t.Amount off t.Account once per t.Ref.
func (s *Simulated) Debit(ctx context.Context, t Transfer) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, fmt.Errorf("bank: %w: %w", ErrUnavailable, err)
	}
	if s.down.Load() {
		return Receipt{}, fmt.Errorf("bank: simulated bank down: %w", ErrUnavailable)
	}
	if t.Ref == "" || t.Amount <= 0 {
		return Receipt{}, fmt.Errorf("bank: transfer %q of %d: invalid", t.Ref, t.Amount)
	}
	var r Receipt
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		if v := b.Get(refKey(t.Ref)); v != nil {
			return json.Unmarshal(v, &r)
		}
		var a simAccount
		v := b.Get(acctKey(t.Account))
		if v == nil {
			return fmt.Errorf("bank: account %q: %w", t.Account, ErrUnknownAccount)
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("bank: account %q: %w", t.Account, err)
		}
		if a.Balance < t.Amount {
			return fmt.Errorf("bank: account %q holds %d, transfer %d: %w", t.Account, a.Balance, t.Amount, ErrInsufficient)
		}
		a.Balance -= t.Amount
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		r = Receipt{Ref: t.Ref, BankRef: fmt.Sprintf("sim-%d", seq), Amount: t.Amount}
		av, _ := json.Marshal(a)
		rv, _ := json.Marshal(r)
		if err := b.Put(acctKey(t.Account), av); err != nil {
			return err
		}
		return b.Put(refKey(t.Ref), rv)
	})
	if err != nil {
		return Receipt{}, err
	}
	return r, nil
}
