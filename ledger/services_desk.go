package ledger

import (
	"fmt"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	bolt "go.etcd.io/bbolt"
)

// The desk's own trades (柜台), under the operator the request names.

// resetPIN sets a new PIN without the old one: its verification value
// waits in a pin-reload write (PIN RELOAD on the card under the reload
// key); when written it is the account's PIN and the ledger's wrong-PIN
// count is cleared.
func (l *Ledger) resetPIN(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	if err := checkNoWrite(tx, a.Card, protocol.FieldPINReload); err != nil {
		return err
	}
	n := a
	if err := l.setPIN(&n, string(t.req.NewPIN)); err != nil {
		return err
	}
	if _, err := t.write(tx, &a, CardWrite{Field: protocol.FieldPINReload, PVV: n.PVV}); err != nil {
		return err
	}
	t.describe(&a)
	return nil
}

// unblock clears, at once and at the ledger only, the wrong-PIN count (a
// locked PIN) and/or the wrong-ID-number count and its lockout.
func (l *Ledger) unblock(tx *bolt.Tx, t *trade) error {
	var a accounts.Account
	var err error
	if t.req.CardNo != "" {
		a, err = cardAccount(tx, t.req.CardNo)
	} else if a, err = getAccount(tx, t.req.Account); err != nil {
		err = fmt.Errorf("ledger: unblock: %w: %w", ErrNoAccount, err)
	}
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	if t.req.Unblock&protocol.UnblockPIN != 0 {
		a.PINTries = 0
	}
	if t.req.Unblock&protocol.UnblockID != 0 {
		a.ClearID()
	}
	if err := putAccount(tx, &a, t.now); err != nil {
		return err
	}
	t.describe(&a)
	return nil
}

// closeAccount (销户) with the card at the desk: refused while a load of
// the card is authorised and not settled (load-unsettled: settle it with
// the card first, /v1/loads/probe). The card's INITIALIZE FOR LOAD answer
// (Proof) proves its purse balance with MAC1 (mac-invalid otherwise);
// that balance moves to the account (an entry close, not for loading),
// the account is cancelled, the card listed cancelled in a new
// status-list version, and a status write (cancelled, that version) is
// made for the desk to write on the card. The answer's Refund is what the
// account then holds for the holder.
func (l *Ledger) closeAccount(tx *bolt.Tx, t *trade) error {
	a, err := cardAccount(tx, t.req.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	n, err := unsettledLoads(tx, a.Card)
	if err != nil {
		return err
	}
	if n > 0 || a.Authorised > 0 {
		return fmt.Errorf("ledger: close: card %s: %d loads unsettled (%s authorised): %w", a.Card, n, Yuan(a.Authorised), ErrLoadUnsettled)
	}
	if err := checkNoWrite(tx, a.Card, protocol.FieldStatus); err != nil {
		return err
	}
	p := loadInitParams(t.req.Proof)
	if p.Amount == 0 || t.req.Proof.Amount > 0xFFFFFFFF || t.req.Proof.BalanceBefore > 0xFFFFFFFF {
		return fmt.Errorf("ledger: close: proof amounts beyond 32 bits: %w", ErrMalformed)
	}
	if err := l.keys.VerifyLoadMAC1(t.ctx, p.session()); err != nil {
		return fmt.Errorf("ledger: close: card %s: MAC1 does not verify: %w: %w", a.Card, ErrMACInvalid, err)
	}
	purse := int64(p.BalanceBefore)
	if purse > 0 {
		a.Credit(purse, false)
		if err := addEntry(tx, &a, accounts.EntryClose, purse, fmt.Sprintf("card %s closed by %s", a.Card, t.req.Operator), t.now); err != nil {
			return err
		}
	}
	a.State, a.Prior = accounts.Cancelled, ""
	v, err := l.changeStatusTx(tx, []protocol.StatusEntry{{CardNo: a.Card, Reason: ReasonCancelled, Since: t.now.Unix()}})
	if err != nil {
		return err
	}
	if err := putAccount(tx, &a, t.now); err != nil {
		return err
	}
	if v > 0xFFFFFFFF {
		return fmt.Errorf("ledger: status-list version %d beyond the card's 4 bytes: %w", v, ErrInvalid)
	}
	if _, err := t.write(tx, &a, CardWrite{Field: protocol.FieldStatus,
		Values: protocol.CardValues{CardStatus: epurse.CardStatusCancelled, StatusVersion: v}}); err != nil {
		return err
	}
	t.describe(&a)
	t.ans.StatusVersion, t.ans.Refund = v, max(0, a.Balance)
	return nil
}

// loadInitParams converts a device's LoadInit (validated) to the
// ledger's parameters.
func loadInitParams(m *protocol.LoadInit) LoadInitParams {
	return LoadInitParams{
		DeviceID: m.DeviceID, CardNo: m.CardNo, CardSerial: [8]byte(m.CardSerial), TerminalID: [6]byte(m.TerminalID),
		OnlineCounter: m.OnlineCounter, BalanceBefore: uint32(m.BalanceBefore), Amount: uint32(m.Amount),
		KeyIndex: m.KeyIndex, KeyVersion: m.KeyVersion, Algorithm: m.Algorithm,
		Random: [4]byte(m.Random), MAC1: [4]byte(m.MAC1), TxTime: m.TxTime,
	}
}
