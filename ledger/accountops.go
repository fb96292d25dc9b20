package ledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// AccountParams make a new account (AddAccount). PIN and NationalID are
// turned into their keyed values at once and never stored or logged.
type AccountParams struct {
	ID          string `json:"id"`
	Card        string `json:"card"`
	ValidUntil  string `json:"valid_until,omitempty"` // YYYYMMDD; "" no end
	TxLimit     int64  `json:"tx_limit,omitempty"`    // fen; 0: accounts.DefaultTxLimit
	PurseLimit  int64  `json:"purse_limit,omitempty"` // fen; 0: accounts.DefaultPurseLimit
	State       string `json:"state,omitempty"`       // "": normal
	PIN         string `json:"pin,omitempty"`         // the holder's PIN (digits); "": none
	NationalID  string `json:"national_id,omitempty"`
	BankAccount string `json:"bank_account,omitempty"`
}

// AccountChange changes an account (SetAccount); nil fields stay.
type AccountChange struct {
	State       *string `json:"state,omitempty"`
	TxLimit     *int64  `json:"tx_limit,omitempty"`
	PurseLimit  *int64  `json:"purse_limit,omitempty"`
	PIN         *string `json:"pin,omitempty"`
	NationalID  *string `json:"national_id,omitempty"`
	BankAccount *string `json:"bank_account,omitempty"`
}

// AccountReport is an account as an operator sees it, with its movements.
type AccountReport struct {
	Account accounts.View    `json:"account"`
	Entries []accounts.Entry `json:"entries"`
	// OldCards says for each replaced card whether its balance moved to
	// the account, or what it waits for.
	OldCards []OldCardStatus `json:"old_cards,omitempty"`
}

func invalid(err error) error {
	if errors.Is(err, accounts.ErrInvalid) && !errors.Is(err, ErrInvalid) {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

func checkLimits(tx, purse int64) error {
	if tx < 0 || purse <= 0 || purse > 0xFFFFFFFF {
		return fmt.Errorf("ledger: account: limits %d, %d: %w", tx, purse, ErrInvalid)
	}
	return nil
}

// AddAccount opens an account for a holder with its first card.
func (l *Ledger) AddAccount(p AccountParams) (accounts.View, error) {
	now := l.now()
	a := accounts.Account{ID: p.ID, Card: p.Card, State: accounts.Normal, ValidUntil: p.ValidUntil, TxLimit: p.TxLimit,
		PurseLimit: p.PurseLimit, BankAccount: p.BankAccount, Created: now.UTC()}
	if a.TxLimit == 0 {
		a.TxLimit = accounts.DefaultTxLimit
	}
	if a.PurseLimit == 0 {
		a.PurseLimit = accounts.DefaultPurseLimit
	}
	switch {
	case !accounts.ValidID(p.ID):
		return accounts.View{}, fmt.Errorf("ledger: account %q: invalid id: %w", p.ID, ErrInvalid)
	case !ValidCardNo(p.Card):
		return accounts.View{}, fmt.Errorf("ledger: account %s: card %q: %w", p.ID, p.Card, ErrInvalid)
	}
	if err := checkLimits(a.TxLimit, a.PurseLimit); err != nil {
		return accounts.View{}, err
	}
	if p.State != "" {
		st, err := accounts.ParseState(p.State)
		if err != nil {
			return accounts.View{}, invalid(err)
		}
		a.State = st
	}
	if p.ValidUntil != "" {
		if _, err := accounts.ParseDate(p.ValidUntil); err != nil {
			return accounts.View{}, invalid(err)
		}
	}
	if p.PIN != "" {
		if err := l.setPIN(&a, p.PIN); err != nil {
			return accounts.View{}, err
		}
	}
	if err := l.setNationalID(&a, p.NationalID); err != nil {
		return accounts.View{}, err
	}
	err := l.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAccounts).Get([]byte(a.ID)) != nil {
			return fmt.Errorf("ledger: account %s exists: %w", a.ID, ErrInvalid)
		}
		if id := tx.Bucket(bucketCardAcct).Get([]byte(a.Card)); id != nil {
			return fmt.Errorf("ledger: card %s belongs to account %s: %w", a.Card, id, ErrInvalid)
		}
		if pend, err := pendingLoads(tx, a.Card); err != nil || len(pend) > 0 {
			return fmt.Errorf("ledger: card %s has %d loads waiting from before accounts: claim or cancel them first: %w %v", a.Card, len(pend), ErrInvalid, err)
		}
		if err := tx.Bucket(bucketCardAcct).Put([]byte(a.Card), []byte(a.ID)); err != nil {
			return err
		}
		return putAccount(tx, &a, now)
	})
	if err != nil {
		return accounts.View{}, err
	}
	l.log.Info("account added", "account", a.ID, "card", a.Card, "state", a.State)
	return a.Redacted(), nil
}

// ShowAccount returns an account by its id or by one of its cards, with
// its movements (ErrNotFound).
func (l *Ledger) ShowAccount(idOrCard string) (AccountReport, error) {
	var r AccountReport
	err := l.db.View(func(tx *bolt.Tx) error {
		a, err := getAccount(tx, idOrCard)
		if errors.Is(err, ErrNotFound) {
			var ok bool
			if a, ok, err = accountOfCard(tx, idOrCard); err == nil && !ok {
				err = fmt.Errorf("ledger: no account or card %q: %w", idOrCard, ErrNotFound)
			}
		}
		if err != nil {
			return err
		}
		r.Account = a.Redacted()
		for _, o := range a.OldCards {
			st := OldCardStatus{Card: o.No, Released: !o.Released.IsZero(), Amount: o.ReleasedAmount}
			if !st.Released {
				if st.Amount, st.Waiting, err = l.oldCardRelease(tx, o, l.now()); err != nil {
					return err
				}
				if st.Waiting == "" {
					st.Waiting = "releasable now: the next claim moves it"
				}
			}
			r.OldCards = append(r.OldCards, st)
		}
		r.Entries, err = accountEntries(tx, a.ID)
		return err
	})
	return r, err
}

// updateAccount runs f on account id in one transaction and stores it.
func (l *Ledger) updateAccount(id, what string, f func(tx *bolt.Tx, a *accounts.Account, now time.Time) error) (accounts.View, error) {
	now := l.now()
	var a accounts.Account
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		if a, err = getAccount(tx, id); err != nil {
			return err
		}
		if err := f(tx, &a, now); err != nil {
			return invalid(err)
		}
		return putAccount(tx, &a, now)
	})
	if err != nil {
		return accounts.View{}, err
	}
	l.log.Info("account "+what, "account", a.ID, "state", a.State, "balance", a.Balance, "loadable", a.Loadable)
	return a.Redacted(), nil
}

// SetAccount changes an account's state, limits, PIN, ID number or bank
// account. A new PIN also unlocks a locked one.
func (l *Ledger) SetAccount(id string, ch AccountChange) (accounts.View, error) {
	return l.updateAccount(id, "changed", func(_ *bolt.Tx, a *accounts.Account, _ time.Time) error {
		if ch.State != nil {
			st, err := accounts.ParseState(*ch.State)
			if err != nil {
				return err
			}
			if st == accounts.Normal && a.State == accounts.OverdrawnFrozen && a.Balance < 0 {
				return fmt.Errorf("ledger: account %s: overdrawn by %s: repay first: %w", a.ID, Yuan(-a.Balance), ErrInvalid)
			}
			a.State = st
		}
		if ch.TxLimit != nil {
			a.TxLimit = *ch.TxLimit
		}
		if ch.PurseLimit != nil {
			a.PurseLimit = *ch.PurseLimit
		}
		if err := checkLimits(a.TxLimit, a.PurseLimit); err != nil {
			return err
		}
		if ch.PIN != nil {
			if err := l.setPIN(a, *ch.PIN); err != nil {
				return err
			}
		}
		if ch.NationalID != nil {
			if err := l.setNationalID(a, *ch.NationalID); err != nil {
				return err
			}
		}
		if ch.BankAccount != nil {
			a.BankAccount = *ch.BankAccount
		}
		return nil
	})
}

// ExtendAccount sets the validity end (延期) to until (YYYYMMDD); an
// expired account whose new end is not past is normal again.
func (l *Ledger) ExtendAccount(id, until string) (accounts.View, error) {
	return l.updateAccount(id, "extended", func(_ *bolt.Tx, a *accounts.Account, now time.Time) error {
		end, err := accounts.ParseDate(until)
		if err != nil {
			return err
		}
		y, m, d := now.Date()
		if time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(end) {
			return fmt.Errorf("ledger: account %s: %s is past: %w", a.ID, until, ErrInvalid)
		}
		a.ValidUntil = until
		if a.State == accounts.Expired {
			a.State = accounts.Normal
		}
		return nil
	})
}

// ReissueCard gives the account a new card (补卡): the old one is
// cancelled on the status list in the same transaction and kept in
// OldCards; its balance is released to the account later (ReleaseOldCard).
func (l *Ledger) ReissueCard(id, newCard string) (accounts.View, error) {
	return l.updateAccount(id, "card reissued", func(tx *bolt.Tx, a *accounts.Account, now time.Time) error {
		if !ValidCardNo(newCard) {
			return fmt.Errorf("ledger: reissue: card %q: %w", newCard, ErrInvalid)
		}
		if other := tx.Bucket(bucketCardAcct).Get([]byte(newCard)); other != nil {
			return fmt.Errorf("ledger: reissue: card %s belongs to account %s: %w", newCard, other, ErrInvalid)
		}
		old := a.Card
		if _, err := l.changeStatusTx(tx, []protocol.StatusEntry{{CardNo: old, Reason: ReasonCancelled, Since: now.Unix()}}); err != nil {
			return err
		}
		a.OldCards = append(a.OldCards, accounts.OldCard{No: old, Cancelled: now.UTC()})
		a.Card = newCard
		return tx.Bucket(bucketCardAcct).Put([]byte(newCard), []byte(a.ID))
	})
}

// Repay credits an overdrawn account (not for loading); once its balance
// is not negative an overdrawn-frozen account is normal again.
func (l *Ledger) Repay(id string, amount int64, ref string) (accounts.View, error) {
	return l.updateAccount(id, "repaid", func(tx *bolt.Tx, a *accounts.Account, now time.Time) error {
		return creditTx(tx, a, accounts.EntryRepay, amount, ref, now)
	})
}

// TopUp credits an account with money paid online (or at the desk),
// marked for loading: the card claims it at a kiosk or POS.
func (l *Ledger) TopUp(id string, amount int64, source string) (accounts.View, error) {
	if source == "" {
		source = "operator"
	}
	return l.updateAccount(id, "topped up", func(tx *bolt.Tx, a *accounts.Account, now time.Time) error {
		if a.State == accounts.Cancelled {
			return fmt.Errorf("ledger: top up %s: account cancelled: %w", a.ID, ErrInvalid)
		}
		// Any other state takes it: a top-up is also how a refund at the
		// desk arrives. A spend-only or frozen account's loads are refused
		// (LoadRefusal), so nothing reaches the card from it.
		return creditTx(tx, a, accounts.EntryTopUp, amount, source, now)
	})
}
