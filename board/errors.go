package board

import (
	"errors"
	"fmt"
)

// Errors callers decide on with errors.Is.
var (
	// ErrClosed is returned by every operation on a closed Board.
	ErrClosed = errors.New("board: closed")
	// ErrUnknown is returned by Relay, Input and Indicator for a name that
	// is not on the board.
	ErrUnknown = errors.New("board: unknown name")
	// ErrPulseTooShort is returned by Relay.Pulse for a pulse shorter than
	// the relay's minimum (a relay that clicks for 5 ms does not open a
	// turnstile, and a misconfigured 0 must not pass silently).
	ErrPulseTooShort = errors.New("board: pulse shorter than the relay's minimum")
	// ErrPulseTooLong is returned by Relay.Pulse for a pulse longer than
	// MaxPulse: keeping a door open for long is Hold's job.
	ErrPulseTooLong = errors.New("board: pulse longer than MaxPulse")
	// ErrBadSpec is returned by New for a Spec that breaks a rule (empty
	// or duplicate names, a pin used twice, a negative duration).
	ErrBadSpec = errors.New("board: invalid spec")
	// ErrBadPattern is returned by Indicator.Blink for a pattern that
	// would not blink (no on time, or repeats without an off time).
	ErrBadPattern = errors.New("board: invalid blink pattern")
)

// PinError reports a configured pin that the GPIO backend does not have.
// With periph.io this usually means a wrong pin name or a kernel too old for
// the GPIO character devices that periph.io/x/host 3.8.3 and later use.
type PinError struct {
	// Pin is the pin name as configured.
	Pin string
	// Kernel is the running kernel release, when it could be read.
	Kernel string
	// Reason says why the pin is missing.
	Reason string
}

func (e *PinError) Error() string {
	s := fmt.Sprintf("board: pin %q not found", e.Pin)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Kernel != "" {
		s += " (running kernel " + e.Kernel + ")"
	}
	return s
}
