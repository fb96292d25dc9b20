package ledger

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// claimTx takes the money of the load p asks for: from the card's account
// when it has one (claimAccountTx), else from the card's own pending loads
// (the oldest of the amount, or all of them merged when the amount is
// their total).
func (l *Ledger) claimTx(tx *bolt.Tx, p LoadInitParams, now time.Time) (*Load, error) {
	a, ok, err := accountOfCard(tx, p.CardNo)
	if err != nil {
		return nil, err
	}
	if ok {
		if pendingOldCard(&a) {
			if _, err := l.releaseOldCardsTx(tx, &a, now); err != nil {
				return nil, err
			}
		}
		return claimAccountTx(tx, &a, p, now)
	}
	pend, err := pendingLoads(tx, p.CardNo)
	if err != nil {
		return nil, err
	}
	for i := range pend {
		if pend[i].Amount == int64(p.Amount) {
			return &pend[i], nil
		}
	}
	return mergePending(tx, p.CardNo, pend, int64(p.Amount), now)
}

// loadRefusal says why a's card may not load now: the card is not the
// account's current one (a replaced card: cancelled), the account's state
// or validity (accounts.LoadRefusal).
func loadRefusal(a *accounts.Account, card string, now time.Time) error {
	if a.Card != card {
		return fmt.Errorf("ledger: card %s was replaced by %s: %w", card, a.Card, accounts.ErrCancelled)
	}
	return a.LoadRefusal(now)
}

// claimAccountTx debits a by the load p asks for and makes the load that
// carries it (authorised by the caller). Refused, nothing changes: the
// account's state (an error wrapping the accounts sentinel), the card's
// purse limit (accounts.ErrPurseLimit), less marked for loading than asked
// (ErrNoPendingLoad and accounts.ErrInsufficient).
func claimAccountTx(tx *bolt.Tx, a *accounts.Account, p LoadInitParams, now time.Time) (*Load, error) {
	if err := loadRefusal(a, p.CardNo, now); err != nil {
		return nil, fmt.Errorf("ledger: load init: account %s: %w", a.ID, err)
	}
	if int64(p.BalanceBefore)+int64(p.Amount) > a.PurseLimit {
		return nil, fmt.Errorf("ledger: load init: card %s: %s + %s above the purse limit %s: %w",
			p.CardNo, Yuan(int64(p.BalanceBefore)), Yuan(int64(p.Amount)), Yuan(a.PurseLimit), accounts.ErrPurseLimit)
	}
	if err := a.Debit(int64(p.Amount)); err != nil {
		return nil, fmt.Errorf("ledger: load init: account %s: %w: %w", a.ID, ErrNoPendingLoad, err)
	}
	id, err := nextSeq(tx, keyLoadSeq)
	if err != nil {
		return nil, err
	}
	ld := &Load{ID: id, CardNo: p.CardNo, Amount: int64(p.Amount), Created: now.UTC(), Source: "account " + a.ID, Account: a.ID}
	if err := putAccount(tx, a, now); err != nil {
		return nil, err
	}
	return ld, addEntry(tx, a, accounts.EntryLoad, -ld.Amount, loadID(id), now)
}

// voidAccountLoad ends an account's authorised load that never reached
// the card: voided, its money back in the account, marked for loading.
func voidAccountLoad(tx *bolt.Tx, ld *Load, now time.Time) error {
	a, err := getAccount(tx, ld.Account)
	if err != nil {
		return err
	}
	a.Settle(ld.Amount, true)
	if err := putAccount(tx, &a, now); err != nil {
		return err
	}
	if err := addEntry(tx, &a, accounts.EntryVoid, ld.Amount, loadID(ld.ID), now); err != nil {
		return err
	}
	ld.State, ld.Finished = LoadVoided, now.UTC()
	return putJSON(tx.Bucket(bucketLoads), be64(ld.ID), ld)
}

// settleAccountLoad notes at its account that a load reached the card.
func settleAccountLoad(tx *bolt.Tx, ld *Load, now time.Time) error {
	if ld.Account == "" {
		return nil
	}
	a, err := getAccount(tx, ld.Account)
	if err != nil {
		return err
	}
	a.Settle(ld.Amount, false)
	return putAccount(tx, &a, now)
}

// refusalCode is the protocol code of a load refusal, 0 for none.
func refusalCode(err error) protocol.Code {
	if err == nil {
		return 0
	}
	return wireError(err).Code
}

// Claims answers what card may claim (领取) now: what its account holds
// marked for loading, what of it a card of balance cardBalance may load
// under the purse limit, and the refusal a load would get (Refusal). A
// card without an account answers the total of its own pending loads.
func (l *Ledger) Claims(card string, cardBalance int64) (protocol.Claims, error) {
	if !ValidCardNo(card) {
		return protocol.Claims{}, fmt.Errorf("ledger: claims: card %q: %w", card, ErrMalformed)
	}
	out := protocol.Claims{CardNo: card}
	now := l.now()
	if err := l.releaseForCard(card, now); err != nil {
		return protocol.Claims{}, err
	}
	err := l.db.View(func(tx *bolt.Tx) error {
		n, err := unsettledLoads(tx, card)
		if err != nil {
			return err
		}
		out.Unsettled = n > 0
		a, ok, err := accountOfCard(tx, card)
		if err != nil {
			return err
		}
		if !ok {
			pend, err := pendingLoads(tx, card)
			for _, ld := range pend {
				out.Loadable += ld.Amount
			}
			out.Claimable = out.Loadable
			return err
		}
		out.Account, out.Loadable, out.PurseLimit, out.TxLimit = a.ID, a.Loadable, a.PurseLimit, a.TxLimit
		if out.Refusal = refusalCode(loadRefusal(&a, card, now)); out.Refusal != 0 {
			return nil
		}
		out.Claimable = a.Claimable(cardBalance)
		if out.Claimable == 0 && a.Loadable > 0 {
			out.Refusal = protocol.CodePurseLimit
		}
		return nil
	})
	if err != nil {
		return protocol.Claims{}, err
	}
	return out, nil
}

// releaseForCard releases the old cards' balances of card's account that
// may be released now (a write only when one waits).
func (l *Ledger) releaseForCard(card string, now time.Time) error {
	waiting := false
	if err := l.db.View(func(tx *bolt.Tx) error {
		a, ok, err := accountOfCard(tx, card)
		waiting = ok && pendingOldCard(&a)
		return err
	}); err != nil || !waiting {
		return err
	}
	return l.db.Update(func(tx *bolt.Tx) error {
		a, ok, err := accountOfCard(tx, card)
		if err != nil || !ok {
			return err
		}
		_, err = l.releaseOldCardsTx(tx, &a, now)
		return err
	})
}
