package ledger

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/bank"
	bolt "go.etcd.io/bbolt"
)

// Errors of a bank transfer.
var (
	// ErrBankRefused: the bank refused (funds short, no such account, no
	// bank account bound to the campus account).
	ErrBankRefused = errors.New("ledger: bank refused the transfer")
	// ErrBankUnavailable: the bank did not answer; the same request may
	// be sent again (same request id: at most one transfer).
	ErrBankUnavailable = errors.New("ledger: bank unavailable")
	// ErrAmountLimit: an amount outside what the service allows.
	ErrAmountLimit = errors.New("ledger: amount outside the service's limits")
)

// DefaultMaxTransfer is Options.MaxTransfer's default: the guide's 888
// yuan per bank transfer.
const DefaultMaxTransfer = 88800

// BankTimeout bounds one call to the bank.
const BankTimeout = 10 * time.Second

// Transfer states.
const (
	TransferRequested = "requested" // asked of the bank; its answer not recorded yet
	TransferDone      = "done"      // the bank debited, the account credited
	TransferRefused   = "refused"   // the bank refused; nothing moved
)

// TransferParams is a device's TransferRequest. The PIN is checked and
// forgotten: never stored, logged or put in an error.
type TransferParams struct {
	DeviceID  string
	CardNo    string
	RequestID []byte
	Amount    int64
	PIN       []byte
}

// TransferRecord is a transfer as the ledger keeps it (bucket transfers,
// by device and request id).
type TransferRecord struct {
	ID      string    `json:"id"` // T-n, the bank's Ref
	Device  string    `json:"device"`
	Card    string    `json:"card"`
	Account string    `json:"account"`
	Bank    string    `json:"bank_account"`
	Amount  int64     `json:"amount"`
	State   string    `json:"state"`
	BankRef string    `json:"bank_ref,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Created time.Time `json:"created"`
	Done    time.Time `json:"done,omitzero"`
}

var keyTransferSeq = []byte("transferseq")

func transferKey(device string, req []byte) []byte {
	return append(append([]byte(device), 0), hex.EncodeToString(req)...)
}

// Bank returns the ledger's bank: Options.Bank, or the simulated bank in
// its store (*bank.Simulated, whose accounts SeedDemo and tests open).
func (l *Ledger) Bank() bank.Bank { return l.bank }

// Transfer does a 银校转账: it checks the holder's PIN against the card's
// account, asks the bank to debit the bound bank account and credits the
// campus account, marked for loading (the kiosk claims it at once). A
// retry with the same device and request id answers the same and moves
// money at most once; one whose bank call failed asks the bank again
// under the same reference. Refusals: ErrNoAccount, the account's state
// (accounts' sentinels; cancelled for a replaced card), ErrAmountLimit,
// ErrPINInvalid, ErrPINLocked (tries count at the ledger), ErrBankRefused,
// ErrBankUnavailable.
func (l *Ledger) Transfer(ctx context.Context, p TransferParams) (TransferRecord, accounts.View, error) {
	now := l.now()
	key := transferKey(p.DeviceID, p.RequestID)
	var rec TransferRecord
	var refusal error
	err := l.db.Update(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTransfers)
		if err := getJSON(tb, key, &rec); err == nil {
			if rec.Card != p.CardNo || rec.Amount != p.Amount {
				return fmt.Errorf("ledger: transfer: request id reused for another card or amount: %w", ErrMalformed)
			}
			return nil
		}
		a, ok, err := accountOfCard(tx, p.CardNo)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("ledger: transfer: card %s: %w", p.CardNo, ErrNoAccount)
		}
		if err := loadRefusal(&a, p.CardNo, now); err != nil {
			return fmt.Errorf("ledger: transfer: account %s: %w", a.ID, err)
		}
		if err := a.CreditRefusal(now); err != nil {
			return fmt.Errorf("ledger: transfer: account %s: %w", a.ID, err)
		}
		if p.Amount <= 0 || p.Amount > l.opts.MaxTransfer {
			return fmt.Errorf("ledger: transfer: %s outside 0.01..%s: %w", Yuan(p.Amount), Yuan(l.opts.MaxTransfer), ErrAmountLimit)
		}
		if a.BankAccount == "" {
			return fmt.Errorf("ledger: transfer: account %s has no bank account bound: %w", a.ID, ErrBankRefused)
		}
		if refusal = l.checkPINTx(&a, p.PIN); refusal != nil {
			return putAccount(tx, &a, now) // the wrong try counts
		}
		if err := putAccount(tx, &a, now); err != nil {
			return err
		}
		n, err := nextSeq(tx, keyTransferSeq)
		if err != nil {
			return err
		}
		rec = TransferRecord{ID: fmt.Sprintf("T-%d", n), Device: p.DeviceID, Card: p.CardNo, Account: a.ID, Bank: a.BankAccount,
			Amount: p.Amount, State: TransferRequested, Created: now.UTC()}
		return putJSON(tb, key, rec)
	})
	if err == nil {
		err = refusal
	}
	if err != nil {
		return TransferRecord{}, accounts.View{}, err
	}
	switch rec.State {
	case TransferRefused:
		return rec, accounts.View{}, fmt.Errorf("ledger: transfer %s: %s: %w", rec.ID, rec.Reason, ErrBankRefused)
	case TransferDone:
		r, err := l.ShowAccount(rec.Account)
		return rec, r.Account, err
	}
	return l.finishTransfer(ctx, key, rec)
}

// finishTransfer asks the bank for the transfer rec (recorded requested
// under key) and records its answer: the account credited, or the
// refusal. The bank does a Ref at most once, so asking again after a
// crash or a lost answer moves the money once.
func (l *Ledger) finishTransfer(ctx context.Context, key []byte, rec TransferRecord) (TransferRecord, accounts.View, error) {
	now := l.now()
	bctx, cancel := context.WithTimeout(ctx, BankTimeout)
	receipt, berr := l.bank.Debit(bctx, bank.Transfer{Ref: rec.ID, Account: rec.Bank, Amount: rec.Amount})
	cancel()
	if berr != nil && !errors.Is(berr, bank.ErrInsufficient) && !errors.Is(berr, bank.ErrUnknownAccount) {
		l.log.Warn("bank transfer not answered", "transfer", rec.ID, "account", rec.Account, "err", berr)
		return rec, accounts.View{}, fmt.Errorf("ledger: transfer %s: %w: %w", rec.ID, ErrBankUnavailable, berr)
	}
	var view accounts.View
	err := l.db.Update(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTransfers)
		var cur TransferRecord
		if err := getJSON(tb, key, &cur); err != nil {
			return err
		}
		a, err := getAccount(tx, rec.Account)
		if err != nil {
			return err
		}
		if cur.State == TransferRequested {
			if berr != nil {
				cur.State, cur.Reason = TransferRefused, berr.Error()
			} else {
				cur.State, cur.BankRef = TransferDone, receipt.BankRef
				if err := creditTx(tx, &a, accounts.EntryTransfer, cur.Amount, cur.ID, now); err != nil {
					return err
				}
			}
			cur.Done = now.UTC()
			if err := putJSON(tb, key, cur); err != nil {
				return err
			}
		}
		rec, view = cur, a.Redacted()
		return nil
	})
	if err != nil {
		return TransferRecord{}, accounts.View{}, err
	}
	if rec.State == TransferRefused {
		l.log.Info("bank transfer refused", "transfer", rec.ID, "account", rec.Account, "amount", rec.Amount, "reason", rec.Reason)
		return rec, view, fmt.Errorf("ledger: transfer %s: %s: %w", rec.ID, rec.Reason, ErrBankRefused)
	}
	l.log.Info("bank transfer done", "transfer", rec.ID, "account", rec.Account, "amount", rec.Amount, "bank_ref", rec.BankRef)
	return rec, view, nil
}

// ResumeTransfers finishes the transfers left requested: the ledger
// stopped (or the bank's answer was lost) after it asked the bank and
// before it recorded the answer, and no device asked again. The bank may
// have debited the holder: each is asked again under its reference (done
// at most once) and the account credited, or the refusal recorded. It
// returns how many it finished; one the bank still does not answer stays
// requested for the next call (ledgerd serve calls it at start and every
// ResumeInterval).
func (l *Ledger) ResumeTransfers(ctx context.Context) (int, error) {
	type left struct {
		key []byte
		rec TransferRecord
	}
	var todo []left
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTransfers).ForEach(func(k, v []byte) error {
			var rec TransferRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("ledger: resume transfers: %q: %w", k, err)
			}
			if rec.State == TransferRequested {
				todo = append(todo, left{key: append([]byte(nil), k...), rec: rec})
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, t := range todo {
		_, _, err := l.finishTransfer(ctx, t.key, t.rec)
		switch {
		case err == nil, errors.Is(err, ErrBankRefused):
			n++
		default:
			errs = append(errs, err)
		}
	}
	if n > 0 {
		l.log.Warn("transfers left requested were finished", "transfers", n)
	}
	return n, errors.Join(errs...)
}

// ResumeInterval is how often ledgerd serve finishes the transfers left
// requested (ResumeTransfers).
const ResumeInterval = time.Minute
