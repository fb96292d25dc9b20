package ledger

import (
	"crypto/hmac"
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// The holder's trades at a kiosk (or a desk). The order of the checks is
// the same in each: the account and its state, a pending write of the
// same field, then the PIN (a try is counted only for a trade that could
// be done), then the effect.

// notLost refuses a card trade on a card reported lost (the finder must
// not change its PIN or limit).
func notLost(a *accounts.Account) error {
	if a.State == accounts.Lost {
		return fmt.Errorf("ledger: account %s: %w", a.ID, accounts.ErrLost)
	}
	return nil
}

// changePIN (修改密码): the old PIN checked at the ledger, the new one's
// verification value waits in a pin write (CHANGE PIN on the card with
// the old and the new PIN); the ledger keeps checking the old one until
// the write is reported written.
func (l *Ledger) changePIN(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	if err := notLost(&a); err != nil {
		return err
	}
	if err := checkNoWrite(tx, a.Card, protocol.FieldPIN); err != nil {
		return err
	}
	if err := l.holderPIN(tx, &a, t.req.PIN, t.now); err != nil {
		return err
	}
	n := a
	if err := l.setPIN(&n, string(t.req.NewPIN)); err != nil {
		return err
	}
	if _, err := t.write(tx, &a, CardWrite{Field: protocol.FieldPIN, PVV: n.PVV}); err != nil {
		return err
	}
	t.describe(&a)
	return nil
}

// setLimit (调整限额): the new per-transaction limit (0 to the purse
// limit: amount-limit) waits in a tx-limit write; the account's limit
// changes when it is written.
func (l *Ledger) setLimit(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	if err := notLost(&a); err != nil {
		return err
	}
	if t.req.TxLimit > a.PurseLimit || t.req.TxLimit > protocol.MaxTxLimit {
		return fmt.Errorf("ledger: limit %s above the purse limit %s: %w", Yuan(t.req.TxLimit), Yuan(a.PurseLimit), ErrAmountLimit)
	}
	if err := checkNoWrite(tx, a.Card, protocol.FieldTxLimit); err != nil {
		return err
	}
	if err := l.holderPIN(tx, &a, t.req.PIN, t.now); err != nil {
		return err
	}
	if _, err := t.write(tx, &a, CardWrite{Field: protocol.FieldTxLimit, Values: protocol.CardValues{TxLimit: t.req.TxLimit}}); err != nil {
		return err
	}
	t.describe(&a)
	return nil
}

// reportLoss (挂失, no card): the holder's number and PIN; the account
// is lost at once and its card listed lost in a new status-list version
// (the answer's StatusVersion). The state it had is kept for 解挂.
func (l *Ledger) reportLoss(tx *bolt.Tx, t *trade) error {
	a, err := getAccount(tx, t.req.Account)
	if err != nil {
		return fmt.Errorf("ledger: report loss: %w: %w", ErrNoAccount, err)
	}
	t.ans.Account = a.ID
	switch a.State {
	case accounts.Cancelled:
		return fmt.Errorf("ledger: report loss: account %s: %w", a.ID, accounts.ErrCancelled)
	case accounts.Lost:
		return fmt.Errorf("ledger: report loss: account %s is reported lost already: %w", a.ID, ErrStateRefused)
	}
	if err := l.holderPIN(tx, &a, t.req.PIN, t.now); err != nil {
		return err
	}
	if a.State != accounts.Normal {
		a.Prior = a.State
	}
	a.State = accounts.Lost
	v, err := l.changeStatusTx(tx, []protocol.StatusEntry{{CardNo: a.Card, Reason: ReasonLost, Since: t.now.Unix()}})
	if err != nil {
		return err
	}
	if err := putAccount(tx, &a, t.now); err != nil {
		return err
	}
	t.describe(&a)
	t.ans.StatusVersion = v
	return nil
}

// statusWrite makes the status write of an unfreeze or a reactivation:
// the card says normal with the status-list version the ledger's next
// change makes (the current + 1: a device whose list is older honours the
// card's own status). When it is written the account goes from to the
// state to and the card leaves the list (in that next version when no
// other change came between).
func (l *Ledger) statusWrite(tx *bolt.Tx, t *trade, a *accounts.Account, from, to accounts.State) error {
	cur, _ := currentStatus(tx)
	if cur+1 > 0xFFFFFFFF {
		return fmt.Errorf("ledger: status-list version %d beyond the card's 4 bytes: %w", cur+1, ErrInvalid)
	}
	_, err := t.write(tx, a, CardWrite{Field: protocol.FieldStatus, Values: protocol.CardValues{StatusVersion: cur + 1}, From: from, To: to})
	t.ans.StatusVersion = cur + 1
	return err
}

// unfreeze (解挂): the card, the PIN and the national ID number, checked
// against the account's keyed digest (never stored, logged or put in an
// error). accounts.MaxIDTries wrong numbers in a row lock the check for
// Options.IDLockout (tries-locked, with its end). Only a lost account is
// unfrozen (a frozen one is the operations' freeze: account-frozen; any
// other state: state-refused). The account stays lost until the card's
// status write is reported written; then it has the state the loss
// report found and the card leaves the list.
func (l *Ledger) unfreeze(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	switch a.State {
	case accounts.Lost:
	case accounts.Frozen:
		return fmt.Errorf("ledger: unfreeze: account %s: %w", a.ID, accounts.ErrFrozen)
	default:
		return fmt.Errorf("ledger: unfreeze: account %s is %s, not lost: %w", a.ID, a.State, ErrStateRefused)
	}
	if until, locked := a.IDLocked(t.now); locked {
		return refusal(fmt.Errorf("ledger: unfreeze: account %s: %w", a.ID, ErrTriesLocked), 0, until)
	}
	if err := checkNoWrite(tx, a.Card, protocol.FieldStatus); err != nil {
		return err
	}
	if err := l.holderPIN(tx, &a, t.req.PIN, t.now); err != nil {
		return err
	}
	d, err := l.holder.IDDigest(t.ctx, string(t.req.NationalID))
	if err != nil {
		return fmt.Errorf("ledger: unfreeze: ID digest: %w", err)
	}
	if len(a.IDDigest) == 0 || !hmac.Equal(d, a.IDDigest) {
		left := a.NoteIDWrong(t.now, l.opts.IDLockout)
		if err := putAccount(tx, &a, t.now); err != nil {
			return err
		}
		if left == 0 {
			return refusal(fmt.Errorf("ledger: unfreeze: account %s: wrong ID number, now locked: %w", a.ID, ErrTriesLocked), 0, a.IDLockedUntil)
		}
		return refusal(fmt.Errorf("ledger: unfreeze: account %s: wrong ID number: %w", a.ID, ErrIDInvalid), left, time.Time{})
	}
	a.ClearID()
	if err := putAccount(tx, &a, t.now); err != nil {
		return err
	}
	to := a.Prior
	if to == "" || to == accounts.Lost {
		to = accounts.Normal
	}
	if err := l.statusWrite(tx, t, &a, accounts.Lost, to); err != nil {
		return err
	}
	sv := t.ans.StatusVersion
	t.describe(&a)
	t.ans.StatusVersion = sv
	return nil
}

// reactivate (卡状态验证): a dormant card verified with the PIN; normal,
// and off the list, when its status write is reported written.
func (l *Ledger) reactivate(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	if a.State != accounts.Dormant {
		return fmt.Errorf("ledger: reactivate: account %s is %s, not dormant: %w", a.ID, a.State, ErrStateRefused)
	}
	if err := checkNoWrite(tx, a.Card, protocol.FieldStatus); err != nil {
		return err
	}
	if err := l.holderPIN(tx, &a, t.req.PIN, t.now); err != nil {
		return err
	}
	if err := l.statusWrite(tx, t, &a, accounts.Dormant, accounts.Normal); err != nil {
		return err
	}
	sv := t.ans.StatusVersion
	t.describe(&a)
	t.ans.StatusVersion = sv
	return nil
}

// statement (查询): the account's balance, what is marked for loading,
// its state, limit and validity, and its last Count movements (newest
// last), with the PIN. Any state answers but a cancelled account or a
// replaced card.
func (l *Ledger) statement(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	if err := l.holderPIN(tx, &a, t.req.PIN, t.now); err != nil {
		return err
	}
	es, err := accountEntries(tx, a.ID)
	if err != nil {
		return err
	}
	n := t.req.Count
	if n == 0 {
		n = protocol.DefaultMovements
	}
	for _, e := range es[max(0, len(es)-n):] {
		t.ans.Movements = append(t.ans.Movements, protocol.Movement{Seq: e.Seq, Time: e.Time.UnixMilli(), Kind: e.Kind,
			Amount: e.Amount, Balance: e.Balance, Ref: printable(e.Ref, 128)})
	}
	t.describe(&a)
	return nil
}

// printable returns s cut to max bytes with every byte that is not
// printable ASCII as '?' (a movement's reference on the wire).
func printable(s string, max int) string {
	b := []byte(s[:min(len(s), max)])
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}
