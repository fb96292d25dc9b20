// Package accounts is the ledger's model of a holder's account (DESIGN.md
// 3.3): the money at the ledger beside the purse on the card. An account
// belongs to one holder and outlives their cards (a reissued card joins the
// same account); it holds a balance where online top-ups, bank transfers,
// refunds and old-card balances arrive, the part of it marked for loading
// (圈存: what a kiosk or POS may move onto the card), a state, a validity
// end date, the holder's per-transaction limit, the card's purse limit, a
// PIN verification value (never the PIN) and a keyed digest of the
// holder's national ID number (never the number). The package is pure: the
// rules and the types; package ledger stores them.
package accounts

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// State is an account's state. The names are stable (stored, shown, sent).
type State string

// Account states.
const (
	Normal    State = "normal"
	Lost      State = "lost"      // 挂失: reported lost; nothing moves until unfrozen (解挂)
	Frozen    State = "frozen"    // 冻结 by operations
	Dormant   State = "dormant"   // unused for a year: verify at a kiosk with the PIN
	Cancelled State = "cancelled" // 销户: closed
	Expired   State = "expired"   // past its validity end: extend (延期)
	// SpendOnly: staff who left may spend the balance but not load.
	SpendOnly State = "spend-only"
	// OverdrawnFrozen: overdrawn through a system fault, frozen until
	// repaid (Repay brings it back to normal once the balance is >= 0).
	OverdrawnFrozen State = "overdrawn-frozen"
)

// States lists every state.
var States = []State{Normal, Lost, Frozen, Dormant, Cancelled, Expired, SpendOnly, OverdrawnFrozen}

// ParseState accepts a state by name.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("accounts: state %q: want one of %s: %w", s, strings.Join(stateNames(), ", "), ErrInvalid)
}

func stateNames() []string {
	out := make([]string, len(States))
	for i, s := range States {
		out[i] = string(s)
	}
	return out
}

// Refusals of money onto a card, one per reason; match them with
// errors.Is. Package ledger maps each to its protocol error code.
var (
	ErrInvalid         = errors.New("accounts: invalid")
	ErrSpendOnly       = errors.New("accounts: spend-only account: the balance may be spent, not loaded")
	ErrOverdrawnFrozen = errors.New("accounts: account overdrawn and frozen until repaid")
	ErrLost            = errors.New("accounts: account reported lost")
	ErrFrozen          = errors.New("accounts: account frozen")
	ErrDormant         = errors.New("accounts: account dormant: verify the card at a kiosk")
	ErrCancelled       = errors.New("accounts: account or card cancelled")
	ErrExpired         = errors.New("accounts: account expired")
	ErrPurseLimit      = errors.New("accounts: the card's balance would exceed its purse limit")
	ErrInsufficient    = errors.New("accounts: the account holds less marked for loading than asked")
)

var stateErrs = map[State]error{
	SpendOnly: ErrSpendOnly, OverdrawnFrozen: ErrOverdrawnFrozen, Lost: ErrLost, Frozen: ErrFrozen,
	Dormant: ErrDormant, Cancelled: ErrCancelled, Expired: ErrExpired,
}

// Defaults of a new account.
const (
	DefaultTxLimit    = 5000   // fen: the guide's 50 yuan above which a POS asks the PIN
	DefaultPurseLimit = 100000 // fen: 1000 yuan, the purse's maximum balance
	MaxIDLen          = 32
	SaltSize          = 16
)

// OldCard is a card the account had before a reissue: cancelled at
// Cancelled; its balance (the last the ledger knew) is released to the
// account once (see package ledger's ReleaseOldCard).
type OldCard struct {
	No        string    `json:"no"`
	Cancelled time.Time `json:"cancelled"`
	// Released is when its balance was credited to the account (zero:
	// not yet), ReleasedAmount how much.
	Released       time.Time `json:"released,omitzero"`
	ReleasedAmount int64     `json:"released_amount,omitempty"`
}

// Account is one holder's account.
type Account struct {
	ID   string `json:"id"`   // the holder's number (student or staff number): no name
	Card string `json:"card"` // the current card
	// OldCards are the cards replaced by reissue, oldest first.
	OldCards   []OldCard `json:"old_cards,omitempty"`
	State      State     `json:"state"`
	ValidUntil string    `json:"valid_until"` // YYYYMMDD, the last valid day
	TxLimit    int64     `json:"tx_limit"`    // fen, the holder's per-transaction limit
	PurseLimit int64     `json:"purse_limit"` // fen, the card's maximum balance
	// Balance is the money at the ledger (fen); negative when overdrawn.
	Balance int64 `json:"balance"`
	// Loadable is the part of Balance marked for loading: 0 <= Loadable
	// <= max(Balance, 0).
	Loadable int64 `json:"loadable"`
	// Authorised is what loads authorised and not yet settled hold
	// (debited from Balance and Loadable; back on a void).
	Authorised int64 `json:"authorised,omitempty"`
	// PVV is salt(16) ‖ the PIN verification value (keys.Holder); empty:
	// no PIN set, nothing needing the holder's PIN is possible.
	PVV []byte `json:"pvv,omitempty"`
	// PINTries counts wrong PINs in a row at the ledger; at MaxPINTries
	// the PIN is locked until an operator sets a new one.
	PINTries int `json:"pin_tries,omitempty"`
	// IDDigest is the keyed digest of the national ID number (keys.Holder).
	IDDigest []byte `json:"id_digest,omitempty"`
	// IDTries counts wrong national ID numbers in a row (解挂); at
	// MaxIDTries the ID check is locked until IDLockedUntil.
	IDTries       int       `json:"id_tries,omitempty"`
	IDLockedUntil time.Time `json:"id_locked_until,omitzero"`
	// Prior is the state a loss report (挂失) found, which unfreezing
	// (解挂) restores ("" none: normal).
	Prior State `json:"prior,omitempty"`
	// BankAccount is the bank account bound for 银校转账 ("" none).
	BankAccount string    `json:"bank_account,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// MaxPINTries is how many wrong PINs in a row lock the PIN at the ledger.
const MaxPINTries = 5

// Redacted returns a copy without the PIN verification value and the ID
// digest, for operators' listings (PINSet and IDSet say whether they are).
func (a Account) Redacted() View {
	return View{Account: Account{ID: a.ID, Card: a.Card, OldCards: a.OldCards, State: a.State, ValidUntil: a.ValidUntil,
		TxLimit: a.TxLimit, PurseLimit: a.PurseLimit, Balance: a.Balance, Loadable: a.Loadable, Authorised: a.Authorised,
		PINTries: a.PINTries, IDTries: a.IDTries, IDLockedUntil: a.IDLockedUntil, Prior: a.Prior, BankAccount: a.BankAccount,
		Created: a.Created, Updated: a.Updated},
		PINSet: len(a.PVV) > 0, IDSet: len(a.IDDigest) > 0}
}

// View is an account as an operator sees it.
type View struct {
	Account
	PINSet bool `json:"pin_set"`
	IDSet  bool `json:"id_set"`
}

// ValidID reports whether s may name an account: 1 to 32 of the letters,
// digits, '.', '_', ':' and '-' (a protocol name: it travels in Claims).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseDate checks a YYYYMMDD date.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse("20060102", s)
	if err != nil || len(s) != 8 {
		return time.Time{}, fmt.Errorf("accounts: date %q: want YYYYMMDD: %w", s, ErrInvalid)
	}
	return t, nil
}

// ValidPIN reports whether pin is 4 to 12 ASCII digits (a card PIN is 6).
func ValidPIN(pin []byte) bool {
	if len(pin) < 4 || len(pin) > 12 {
		return false
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// LoadRefusal returns why money may not be loaded onto a card of a at now
// (in the ledger's time zone), or nil: the state's error, ErrExpired past
// the validity end.
func (a *Account) LoadRefusal(now time.Time) error {
	if err := stateErrs[a.State]; err != nil {
		return err
	}
	if a.ValidUntil != "" {
		end, err := ParseDate(a.ValidUntil)
		if err != nil {
			return err
		}
		y, m, d := now.Date()
		if time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(end) {
			return ErrExpired
		}
	}
	return nil
}

// CreditRefusal returns why the holder may not move money into a (a bank
// transfer): only an account that may load takes one, so cancelled,
// lost, frozen, overdrawn-frozen and spend-only accounts refuse, and so
// does what LoadRefusal refuses (expired ...). Money owed to the holder
// (a refund, a reversal) arrives whatever the state.
func (a *Account) CreditRefusal(now time.Time) error {
	switch a.State {
	case Cancelled:
		return ErrCancelled
	case Lost, Frozen, OverdrawnFrozen, SpendOnly:
		return stateErrs[a.State]
	}
	return a.LoadRefusal(now)
}

// Claimable returns how much a card of balance cardBalance may load now:
// what is marked for loading, up to the purse limit.
func (a *Account) Claimable(cardBalance int64) int64 {
	room := a.PurseLimit - cardBalance
	return max(0, min(a.Loadable, room))
}

// Credit adds amount (fen, > 0) to the balance; loadable marks it for
// loading.
func (a *Account) Credit(amount int64, loadable bool) {
	a.Balance += amount
	if loadable {
		a.Loadable += amount
	}
	a.clamp()
}

// Debit takes a load of amount off what is marked for loading (ErrInsufficient).
func (a *Account) Debit(amount int64) error {
	if amount <= 0 || amount > a.Loadable || amount > a.Balance {
		return fmt.Errorf("accounts: load %d fen: %d marked for loading: %w", amount, a.Loadable, ErrInsufficient)
	}
	a.Balance -= amount
	a.Loadable -= amount
	a.Authorised += amount
	return nil
}

// Settle ends an authorised load: voided puts the money back (marked for
// loading), else it stays on the card.
func (a *Account) Settle(amount int64, voided bool) {
	a.Authorised -= amount
	if a.Authorised < 0 {
		a.Authorised = 0
	}
	if voided {
		a.Balance += amount
		a.Loadable += amount
	}
	a.clamp()
}

func (a *Account) clamp() {
	a.Loadable = max(0, min(a.Loadable, a.Balance))
}

// Entry kinds of an account's movements.
const (
	EntryTopUp    = "topup"    // money paid online or by an operator, marked for loading
	EntryTransfer = "transfer" // 银校转账 from the bank, marked for loading
	EntryReversal = "reversal" // a cashier's reversal of a verified sale, marked for loading
	EntryOldCard  = "old-card" // a replaced card's balance, marked for loading
	EntryRepay    = "repay"    // repayment of an overdraft (not for loading)
	EntryLoad     = "load"     // a load authorised: the money leaves for the card
	EntryVoid     = "void"     // an authorised load that never reached the card: back
)

// Entry is one movement of an account's money, kept for audit.
type Entry struct {
	Seq     uint64    `json:"seq"`
	Account string    `json:"account"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Amount  int64     `json:"amount"` // fen, signed: + credits the account
	Balance int64     `json:"balance"`
	// Loadable is what is marked for loading after the entry.
	Loadable int64  `json:"loadable"`
	Ref      string `json:"ref,omitempty"` // load id, reversal record, transfer id, card...
}
