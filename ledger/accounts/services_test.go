package accounts

import (
	"errors"
	"testing"
	"time"
)

// TestSpendRefusal: which states may pay a service from the account.
func TestSpendRefusal(t *testing.T) {
	now := time.Date(2026, 9, 14, 12, 0, 0, 0, time.UTC)
	for st, want := range map[State]error{
		Normal: nil, SpendOnly: nil, Lost: ErrLost, Frozen: ErrFrozen, OverdrawnFrozen: ErrOverdrawnFrozen,
		Cancelled: ErrCancelled, Dormant: ErrDormant, Expired: ErrExpired,
	} {
		a := Account{State: st, ValidUntil: "20300831"}
		if err := a.SpendRefusal(now); !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", st, err, want)
		}
	}
	a := Account{State: SpendOnly, ValidUntil: "20260913"}
	if err := a.SpendRefusal(now); !errors.Is(err, ErrExpired) {
		t.Errorf("spend-only past its end: %v", err)
	}
}

// TestSpend: a payment takes the balance, what is marked for loading
// shrinks with it, more than the balance is refused.
func TestSpend(t *testing.T) {
	a := Account{Balance: 5000, Loadable: 5000}
	if err := a.Spend(3000); err != nil || a.Balance != 2000 || a.Loadable != 2000 {
		t.Fatalf("%+v %v", a, err)
	}
	if err := a.Spend(2001); !errors.Is(err, ErrBalance) || a.Balance != 2000 {
		t.Fatalf("%+v %v", a, err)
	}
	if err := a.Spend(0); !errors.Is(err, ErrBalance) {
		t.Fatal(err)
	}
}

// TestIDTries: MaxIDTries wrong numbers lock for the lockout, after which
// the count starts again.
func TestIDTries(t *testing.T) {
	now := time.Date(2026, 9, 14, 12, 0, 0, 0, time.UTC)
	var a Account
	for want := MaxIDTries - 1; want >= 1; want-- {
		if left := a.NoteIDWrong(now, time.Hour); left != want {
			t.Fatalf("left %d, want %d", left, want)
		}
	}
	if left := a.NoteIDWrong(now, time.Hour); left != 0 {
		t.Fatal(left)
	}
	if until, ok := a.IDLocked(now.Add(59 * time.Minute)); !ok || !until.Equal(now.Add(time.Hour)) {
		t.Fatal(until, ok)
	}
	if _, ok := a.IDLocked(now.Add(time.Hour)); ok {
		t.Fatal("locked after the lockout")
	}
	if left := a.NoteIDWrong(now.Add(time.Hour), time.Hour); left != MaxIDTries-1 {
		t.Fatalf("after the lockout: %d left", left)
	}
	a.ClearID()
	if a.IDTries != 0 || !a.IDLockedUntil.IsZero() {
		t.Fatal(a)
	}
}
