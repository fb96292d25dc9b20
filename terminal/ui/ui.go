// Package ui is what the customer and the cashier see and touch: the
// display, the keypad and the buzzer, as the POS, gate and kiosk flows use
// them.
//
// Every Message carries a stable Code, Chinese and English text and, where
// relevant, the amount and balance, so that tests assert what was shown for
// each outcome by code and the rig can compare runs. Console implements
// Display and Keypad on a terminal (yktd run --sim); uitest.Sim records
// messages and plays keys queued by tests. A board.Indicator wired as the
// buzzer satisfies Buzzer.
//
// PINs: ReadPIN returns a PIN whose String, GoString and slog value are
// redacted; nothing in this package logs or keeps a PIN after the call.
package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Errors of keypad entry, for errors.Is.
var (
	// ErrCancelled is returned when the cashier or holder pressed Cancel.
	ErrCancelled = errors.New("ui: entry cancelled")
	// ErrTimeout is returned when ctx's deadline passed before Enter; it
	// also wraps context.DeadlineExceeded.
	ErrTimeout = errors.New("ui: entry timed out")
)

// Display is the customer display: one message at a time.
type Display interface {
	// Show replaces what the display shows with m.
	Show(ctx context.Context, m Message) error
	// Clear blanks the display (back to idle).
	Clear(ctx context.Context) error
}

// Keypad is the POS or gate keypad.
type Keypad interface {
	// ReadAmount reads an amount in yuan keyed by the cashier (digits, an
	// optional decimal point and up to two decimals, Enter) and returns it
	// in fen. Cancel returns ErrCancelled; ctx's deadline ErrTimeout.
	ReadAmount(ctx context.Context) (fen int64, err error)
	// ReadPIN reads up to maxLen digits and Enter. Cancel returns
	// ErrCancelled; ctx's deadline ErrTimeout. The digits are echoed as '*'.
	ReadPIN(ctx context.Context, maxLen int) (PIN, error)
}

// Buzzer sounds the outcome of a tap: one short beep for ok, three short
// beeps for refused. *board.Indicator implements it.
type Buzzer interface {
	Beep(ok bool) error
}

// MaxAmount is the largest amount ReadAmount accepts: 99999.99 yuan, far
// above any sale and far below the e-purse's 32-bit limit.
const MaxAmount = 9999999

// PIN is a holder's PIN as keyed. Its printed forms are redacted; Reveal
// gives the digits to the card's VERIFY and nothing else should call it.
type PIN struct {
	digits []byte
}

// NewPIN wraps digits as a PIN (for tests and adapters).
func NewPIN(digits string) PIN { return PIN{digits: []byte(digits)} }

// Reveal returns the digits, for epurse.VerifyPIN.
func (p PIN) Reveal() string { return string(p.digits) }

// Len returns the number of digits.
func (p PIN) Len() int { return len(p.digits) }

// String is redacted: "******".
func (p PIN) String() string { return "******" }

// GoString is redacted, so %#v does not print the digits either.
func (p PIN) GoString() string { return "ui.PIN{******}" }

// Format is redacted for every verb (%d or %x on the struct would otherwise
// print the digits).
func (p PIN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("******")) }

// LogValue is redacted for log/slog.
func (p PIN) LogValue() slog.Value { return slog.StringValue("******") }

// MarshalText is redacted, so JSON or text loggers do not print the digits.
func (p PIN) MarshalText() ([]byte, error) { return []byte("******"), nil }

// Wipe overwrites the digits; call it once the card has checked the PIN.
func (p PIN) Wipe() {
	for i := range p.digits {
		p.digits[i] = 0
	}
}
