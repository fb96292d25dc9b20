package accounts

import (
	"errors"
	"fmt"
	"time"
)

// The holder's self-service and the desk (issue 15).

// MaxIDTries is how many wrong national ID numbers in a row lock the ID
// check (解挂) for a period (package ledger's Options.IDLockout, default
// DefaultIDLockout).
const MaxIDTries = 5

// DefaultIDLockout is how long MaxIDTries wrong ID numbers lock the ID
// check.
const DefaultIDLockout = 24 * time.Hour

// Entry kinds of the services.
const (
	EntryFee   = "fee"   // 网费 / 电费 paid from the account (negative)
	EntryClose = "close" // 销户: the card's purse balance moved to the account for the refund
)

// ErrBalance: the account's balance is less than a payment from it.
var ErrBalance = errors.New("accounts: the account's balance is less than the payment")

// SpendRefusal returns why the holder may not spend the account's money
// in a service (a fee payment) now, or nil: lost, frozen,
// overdrawn-frozen, cancelled, dormant (verify the card first) and
// expired (extend first) refuse; spend-only may spend, that is what it is
// for.
func (a *Account) SpendRefusal(now time.Time) error {
	if a.State == SpendOnly {
		c := *a
		c.State = Normal
		return c.LoadRefusal(now)
	}
	return a.LoadRefusal(now)
}

// Spend takes a payment of amount (fen, > 0) off the balance; what is
// marked for loading shrinks with it when the balance is less.
func (a *Account) Spend(amount int64) error {
	if amount <= 0 || amount > a.Balance {
		return fmt.Errorf("accounts: pay %d fen from a balance of %d: %w", amount, a.Balance, ErrBalance)
	}
	a.Balance -= amount
	a.clamp()
	return nil
}

// IDLocked reports whether the ID check is locked at now, and until when.
func (a *Account) IDLocked(now time.Time) (time.Time, bool) {
	if !a.IDLockedUntil.IsZero() && now.Before(a.IDLockedUntil) {
		return a.IDLockedUntil, true
	}
	return time.Time{}, false
}

// NoteIDWrong counts a wrong ID number at now: it returns the tries left,
// and at MaxIDTries it locks the check for lockout (0 left).
func (a *Account) NoteIDWrong(now time.Time, lockout time.Duration) int {
	if !a.IDLockedUntil.IsZero() && !now.Before(a.IDLockedUntil) {
		a.IDTries, a.IDLockedUntil = 0, time.Time{} // the last lockout is over
	}
	a.IDTries++
	if a.IDTries >= MaxIDTries {
		a.IDTries, a.IDLockedUntil = 0, now.Add(lockout).UTC()
		return 0
	}
	return MaxIDTries - a.IDTries
}

// ClearID clears the ID check's count and lockout (a right ID number, or
// the desk).
func (a *Account) ClearID() { a.IDTries, a.IDLockedUntil = 0, time.Time{} }
