package accounts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
)

// TestLoadRefusal: one refusal per state that forbids loads, and the
// validity end.
func TestLoadRefusal(t *testing.T) {
	now := time.Date(2026, 9, 14, 23, 59, 0, 0, time.UTC)
	for st, want := range map[accounts.State]error{
		accounts.Normal: nil, accounts.SpendOnly: accounts.ErrSpendOnly, accounts.OverdrawnFrozen: accounts.ErrOverdrawnFrozen,
		accounts.Lost: accounts.ErrLost, accounts.Frozen: accounts.ErrFrozen, accounts.Dormant: accounts.ErrDormant,
		accounts.Cancelled: accounts.ErrCancelled, accounts.Expired: accounts.ErrExpired,
	} {
		a := accounts.Account{State: st, ValidUntil: "20260914"}
		if err := a.LoadRefusal(now); !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", st, err, want)
		}
	}
	a := accounts.Account{State: accounts.Normal, ValidUntil: "20260913"}
	if err := a.LoadRefusal(now); !errors.Is(err, accounts.ErrExpired) {
		t.Errorf("past the validity end: %v", err)
	}
	if len(accounts.States) != 8 {
		t.Errorf("states %v", accounts.States)
	}
	for _, s := range accounts.States {
		if got, err := accounts.ParseState(string(s)); err != nil || got != s {
			t.Errorf("parse %s: %v", s, err)
		}
	}
	if _, err := accounts.ParseState("ok"); !errors.Is(err, accounts.ErrInvalid) {
		t.Errorf("parse ok: %v", err)
	}
}

// TestMoney: credits, what may be claimed under the purse limit, a debit
// and its settlement (kept or voided), never below what is held.
func TestMoney(t *testing.T) {
	a := accounts.Account{PurseLimit: 10000}
	a.Credit(3000, true)
	a.Credit(500, false) // a repayment: not for loading
	if a.Balance != 3500 || a.Loadable != 3000 {
		t.Fatalf("after credits %+v", a)
	}
	if got := a.Claimable(8000); got != 2000 {
		t.Errorf("claimable at 80.00 on the card: %d, want the 20.00 the purse limit leaves", got)
	}
	if got := a.Claimable(12000); got != 0 {
		t.Errorf("claimable above the purse limit: %d", got)
	}
	if err := a.Debit(3001); !errors.Is(err, accounts.ErrInsufficient) {
		t.Errorf("debit beyond: %v", err)
	}
	if err := a.Debit(1000); err != nil || a.Balance != 2500 || a.Loadable != 2000 || a.Authorised != 1000 {
		t.Fatalf("debit %+v %v", a, err)
	}
	a.Settle(1000, true)
	if a.Balance != 3500 || a.Loadable != 3000 || a.Authorised != 0 {
		t.Errorf("voided %+v", a)
	}
	_ = a.Debit(3000)
	a.Settle(3000, false)
	if a.Balance != 500 || a.Loadable != 0 || a.Authorised != 0 {
		t.Errorf("kept %+v", a)
	}
	v := accounts.Account{ID: "x", PVV: []byte{1}, IDDigest: []byte{2}}.Redacted()
	if v.PVV != nil || v.IDDigest != nil || !v.PINSet || !v.IDSet {
		t.Errorf("redacted %+v", v)
	}
}
