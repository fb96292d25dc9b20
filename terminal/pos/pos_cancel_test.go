package pos_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// withCashierPIN is cfg with the hash of cashierPIN.
func withCashierPIN(t *testing.T, cfg config.POS) config.POS {
	t.Helper()
	h, err := config.HashPIN(cashierPIN, config.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CashierPINHash = h
	return cfg
}

func TestCancelLast(t *testing.T) {
	r := newRig(t, withCashierPIN(t, fixed(1250)))
	if res, err := r.pos.CancelLast(r.ctx, cashierPIN); err != nil || res.Code != pos.CodeNothingToUndo {
		t.Fatalf("nothing to cancel: %+v %v", res, err)
	}
	card := demoCard(t, "student", "", 0)
	sale := r.handle(card, 0)
	r.clock.Advance(time.Minute)
	res, err := r.pos.CancelLast(r.ctx, cashierPIN)
	if err != nil || res.Outcome != pos.Cancelled || res.Amount != 1250 || res.IntentID != sale.IntentID || res.CardNo != sale.CardNo {
		t.Fatalf("cancel: %+v %v", res, err)
	}
	if m := r.last(); m.Code != ui.Code(pos.CodeSaleCancelled) || !strings.Contains(m.ZH, "已撤销 12.50元") {
		t.Fatalf("display %v", m)
	}
	if res, _ := r.pos.CancelLast(r.ctx, cashierPIN); res.Outcome != pos.Refused || res.Code != pos.CodeAlreadyUndone {
		t.Fatalf("second cancel: %+v", res)
	}
	var reversed []protocol.Record
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindPurchaseReversed {
			reversed = append(reversed, rec)
		}
	}
	if len(reversed) != 1 || reversed[0].IntentID != sale.IntentID || reversed[0].Amount != 1250 || reversed[0].CardNo != sale.CardNo {
		t.Fatalf("reversed records %+v", reversed)
	}

	// A restart keeps the cancellation: still refused.
	r.reopen()
	if res, _ := r.pos.CancelLast(r.ctx, cashierPIN); res.Code != pos.CodeAlreadyUndone {
		t.Fatalf("cancel after restart: %+v", res)
	}

	// After the window: refused, nothing journaled.
	r.clock.Advance(time.Minute)
	r.handle(card, 0)
	r.clock.Advance(2*time.Minute + time.Second)
	before := len(r.records())
	if res, _ := r.pos.CancelLast(r.ctx, cashierPIN); res.Outcome != pos.Refused || res.Code != pos.CodeCancelExpired {
		t.Fatalf("cancel after the window: %+v", res)
	}
	if len(r.records()) != before {
		t.Fatal("a refused cancel journaled something")
	}
}

// TestCancelLastNeedsCashier: every refusal of the cashier's authority is a
// *CashierError with its code and sentinel, shown on the display, names no
// card and journals nothing; the sale stays cancellable by the cashier.
func TestCancelLastNeedsCashier(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      func(*testing.T) config.POS
		pins     []string // sent in turn; the last one's refusal is checked
		code     string
		sentinel error
		left     int
		locked   time.Duration
	}{
		{"no cashier configured", func(*testing.T) config.POS { return fixed(1250) }, []string{cashierPIN}, "no_cashier", pos.ErrNoCashier, 0, 0},
		{"no PIN", func(t *testing.T) config.POS { return withCashierPIN(t, fixed(1250)) }, []string{""}, "cashier_pin_required", pos.ErrCashierPIN, 0, 0},
		{"wrong PIN", func(t *testing.T) config.POS { return withCashierPIN(t, fixed(1250)) }, []string{"1111"}, "cashier_pin_wrong", pos.ErrCashierPIN, 4, 0},
		{"malformed PIN", func(t *testing.T) config.POS { return withCashierPIN(t, fixed(1250)) }, []string{"25 80"}, "cashier_pin_wrong", pos.ErrCashierPIN, 4, 0},
		{"third wrong PIN", func(t *testing.T) config.POS { return withCashierPIN(t, fixed(1250)) }, []string{"1", "22", "333"}, "cashier_pin_wrong", pos.ErrCashierPIN, 2, 0},
		{"locked out", func(t *testing.T) config.POS { return withCashierPIN(t, fixed(1250)) }, []string{"1", "2", "3", "4", "5", cashierPIN}, "cashier_locked", pos.ErrCashierLocked, 0, pos.CashierLockout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			cfg.CancelWindow = config.Duration(10 * time.Minute) // longer than the lockout
			r := newRig(t, cfg)
			sale := r.handle(demoCard(t, "student", "", 0), 0)
			before := len(r.records())
			var res pos.Result
			var err error
			for _, pin := range tc.pins {
				res, err = r.pos.CancelLast(r.ctx, pin)
			}
			var cerr *pos.CashierError
			if !errors.As(err, &cerr) || !errors.Is(err, tc.sentinel) || string(cerr.Code) != tc.code ||
				cerr.AttemptsLeft != tc.left || cerr.RetryAfter != tc.locked {
				t.Fatalf("CancelLast: %v (%+v), want a CashierError %s, %d left, locked %v", err, cerr, tc.code, tc.left, tc.locked)
			}
			if res.Outcome != pos.Refused || string(res.Code) != tc.code || res.CardNo != "" || res.Amount != 0 {
				t.Errorf("result %+v names the sale or is not refused", res)
			}
			if m := r.last(); string(m.Code) != tc.code || m.ZH == "" || m.EN == "" {
				t.Errorf("display %+v, want the refusal", m)
			}
			for _, pin := range tc.pins {
				if len(pin) > 1 && strings.Contains(err.Error(), pin) {
					t.Errorf("the error quotes a PIN: %v", err)
				}
			}
			if len(r.records()) != before {
				t.Error("a refused cancel journaled something")
			}
			if tc.code == "no_cashier" {
				return
			}
			r.clock.Advance(tc.locked)
			if res, err := r.pos.CancelLast(r.ctx, cashierPIN); err != nil || res.Outcome != pos.Cancelled || res.IntentID != sale.IntentID {
				t.Errorf("the cashier's cancel afterwards: %+v %v", res, err)
			}
		})
	}
}
