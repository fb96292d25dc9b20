package pos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Codes of the cashier's authority (CancelLast), stable like the others.
const (
	CodeNoCashier       policy.Code = "no_cashier"           // no pos.cashier_pin_hash: cancel-last is refused
	CodeCashierRequired policy.Code = "cashier_pin_required" // no cashier PIN given
	CodeCashierWrong    policy.Code = "cashier_pin_wrong"    // the cashier PIN is wrong
	CodeCashierLocked   policy.Code = "cashier_locked"       // too many wrong PINs: wait
)

// The cashier's lockout: after CashierMaxAttempts wrong PINs in a row the
// cashier is locked out for CashierLockout; each further wrong PIN before a
// right one locks again at once, for twice as long as the last time (up to
// CashierMaxLockout). The right PIN clears the count. The count is held in
// memory: a restart of the daemon, which needs the technician, clears it.
const (
	CashierMaxAttempts = 5
	CashierLockout     = 5 * time.Minute
	CashierMaxLockout  = 24 * time.Hour
)

// Sentinels of CashierError, for errors.Is.
var (
	ErrNoCashier     = errors.New("pos: no cashier is configured (pos.cashier_pin_hash, made by yktd cashier-pin): cancel-last is refused")
	ErrCashierPIN    = errors.New("pos: cashier PIN missing or wrong")
	ErrCashierLocked = errors.New("pos: cashier locked out after wrong PINs")
)

// CashierError is CancelLast's refusal of the cashier's authority. It
// never carries the PIN.
type CashierError struct {
	Code policy.Code // CodeNoCashier, CodeCashierRequired, CodeCashierWrong or CodeCashierLocked
	// AttemptsLeft: a wrong PIN, how many more before the lockout.
	AttemptsLeft int
	// RetryAfter: locked out, for how much longer.
	RetryAfter time.Duration
	Err        error // ErrNoCashier, ErrCashierPIN or ErrCashierLocked
}

func (e *CashierError) Error() string {
	switch e.Code {
	case CodeCashierWrong:
		return fmt.Sprintf("%v: wrong PIN, %d attempts left before the lockout", e.Err, e.AttemptsLeft)
	case CodeCashierLocked:
		return fmt.Sprintf("%v: try again in %v", e.Err, e.RetryAfter.Round(time.Second))
	case CodeCashierRequired:
		return fmt.Sprintf("%v: send the cashier's PIN", e.Err)
	}
	return e.Err.Error()
}

func (e *CashierError) Unwrap() error { return e.Err }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up.
func (e *CashierError) RetryAfterSeconds() int { return int(math.Ceil(e.RetryAfter.Seconds())) }

// cashierGate checks the cashier's PIN and counts the wrong ones. Its own
// mutex serialises the attempts (parallel guesses wait their turn) without
// holding the POS while the PIN hash is derived.
type cashierGate struct {
	mu          sync.Mutex
	wrong       int // wrong PINs in a row
	locks       int // lockouts since the last right PIN
	lockedUntil time.Time
}

func (g *cashierGate) check(h config.PINHash, pin string, now time.Time) *CashierError {
	if h.IsZero() {
		return &CashierError{Code: CodeNoCashier, Err: ErrNoCashier}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.lockedUntil) {
		return &CashierError{Code: CodeCashierLocked, RetryAfter: g.lockedUntil.Sub(now), Err: ErrCashierLocked}
	}
	if pin == "" {
		return &CashierError{Code: CodeCashierRequired, Err: ErrCashierPIN}
	}
	if h.Verify(pin) {
		g.wrong, g.locks, g.lockedUntil = 0, 0, time.Time{}
		return nil
	}
	g.wrong++
	if g.wrong < CashierMaxAttempts {
		return &CashierError{Code: CodeCashierWrong, AttemptsLeft: CashierMaxAttempts - g.wrong, Err: ErrCashierPIN}
	}
	d := CashierLockout << min(g.locks, 10)
	g.locks++
	g.wrong = CashierMaxAttempts - 1 // the next wrong PIN locks again
	g.lockedUntil = now.Add(min(d, CashierMaxLockout))
	return &CashierError{Code: CodeCashierLocked, RetryAfter: g.lockedUntil.Sub(now), Err: ErrCashierLocked}
}

// cashierTexts are the display's texts of the cashier's refusals.
var cashierTexts = map[policy.Code][2]string{
	CodeNoCashier:       {"未设置收银员密码 不能撤销", "No cashier PIN set: cannot cancel"},
	CodeCashierRequired: {"请输入收银员密码", "Cashier PIN required"},
	CodeCashierWrong:    {"收银员密码错误", "Wrong cashier PIN"},
	CodeCashierLocked:   {"收银员密码已锁定 请稍后再试", "Cashier PIN locked, try later"},
}

// CancelLast reverses the last completed sale for the cashier, whose PIN
// (pos.cashier_pin_hash) it needs, within the configured window (config
// CancelWindow) and once. The card is not credited here (crediting needs
// the load key, which only the ledger holds): a purchase-reversed record
// naming the sale's intent and amount is journaled (fsync'd) and the ledger
// owes the amount back to the card as a pending load. It is never silent:
// refused after the window, a second time, or with no sale, with the reason
// on the display.
//
// A refusal of the cashier (no cashier configured, no PIN, a wrong PIN, the
// lockout after wrong PINs) returns a *CashierError and names no card; any
// other error is a store failure. The PIN never reaches the log, the
// journal or an error.
func (p *POS) CancelLast(ctx context.Context, pin string) (Result, error) {
	if cerr := p.cashier.check(p.cfg.CashierPINHash, pin, p.now()); cerr != nil {
		t := cashierTexts[cerr.Code]
		res := Result{Outcome: Refused, Code: cerr.Code, Message: ui.Custom(ui.Code(cerr.Code), t[0], t[1])}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.show(ctx, res.Message)
		p.log.Warn("pos: cancel of the last sale refused: the cashier's authority", "code", cerr.Code.String(),
			"attempts_left", cerr.AttemptsLeft, "locked_for", cerr.RetryAfter.Round(time.Second))
		return res, cerr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	res, err := p.cancelLast()
	p.show(ctx, res.Message)
	p.log.Info("pos: cancel last sale", "card", res.CardNo, "outcome", res.Outcome.String(), "code", res.Code.String(),
		"amount", res.Amount, "intent", res.IntentID)
	if err != nil {
		p.log.Error("pos: cancel failed", "err", err)
	}
	return res, err
}

func (p *POS) cancelLast() (Result, error) {
	l := p.last
	switch {
	case l == nil:
		return refused("", CodeNothingToUndo), nil
	case l.Reversed:
		r := refused(l.CardNo, CodeAlreadyUndone)
		r.IntentID = l.IntentID
		return r, nil
	}
	if age := p.now().Sub(l.At); age > p.cfg.CancelWindow.D() || age < -p.cfg.CancelWindow.D() {
		r := refused(l.CardNo, CodeCancelExpired)
		r.IntentID = l.IntentID
		return r, nil
	}
	if _, err := p.store.Append(protocol.Record{
		Kind: protocol.KindPurchaseReversed, IntentID: l.IntentID, CardNo: l.CardNo, Amount: l.Amount, Reason: "cashier",
	}); err != nil {
		r := refused(l.CardNo, CodeStoreFault)
		return r, fmt.Errorf("pos: cancel sale %d: %w", l.IntentID, err)
	}
	l.Reversed = true
	u := p.usage[l.CardNo]
	u.TodayFen = max(0, u.TodayFen-l.Amount)
	p.usage[l.CardNo] = u
	return Result{Outcome: Cancelled, Code: CodeSaleCancelled, Message: cancelledMessage(l.Amount),
		CardNo: l.CardNo, Amount: l.Amount, IntentID: l.IntentID}, nil
}
