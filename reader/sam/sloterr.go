package sam

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of a Slot. They are what errors.Is finds in a *PSAMError; none of
// them is a reader sentinel or epurse.ErrMACInvalid (see PSAMError).
var (
	// ErrNoSAM: the slot holds no usable PSAM: none seated, its reader or
	// pcscd is down, it is still being opened, or its connection just
	// failed (the slot is reconnecting it).
	ErrNoSAM = errors.New("sam: no PSAM in the slot")
	// ErrSessionLost: VerifyMAC2 after the PSAM that computed the
	// purchase's MAC1 went away (removed, reconnected or replaced): its
	// purchase session went with it, so the card's MAC2 was not checked.
	// The MAC2 is unchecked, not wrong.
	ErrSessionLost = errors.New("sam: the PSAM that opened the purchase is gone")
	// ErrPSAMFault: the PSAM in the slot is there but answered a command
	// with a status word other than 9000 (other than a refused MAC2) or
	// with a malformed response, or the caller's context ended first.
	ErrPSAMFault = errors.New("sam: PSAM fault")
)

// PSAMError is a failure of a Slot's PSAM. Kind is ErrNoSAM,
// ErrSessionLost or ErrPSAMFault and is what errors.Is finds; Err is the
// cause (the PSAM's status word, the reader's error), for the log.
//
// Err is deliberately not in the error chain: its reader sentinels
// (reader.ErrCardRemoved, reader.ErrTransport...) and the PSAM's
// *reader.StatusError are what the purchase flow reads as the customer's
// card's answer, and a PSAM torn out of its slot must show as a SAM fault,
// not as "card unreadable, tap again" or "card refused". Use errors.As to
// reach Err.
type PSAMError struct {
	Kind   error  // ErrNoSAM, ErrSessionLost or ErrPSAMFault
	Reader string // the slot's reader
	Err    error  // the cause; not in the chain
}

// Error renders the kind, the reader and the cause (without the cause's
// own "sam: " prefix: the kind has it already).
func (e *PSAMError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%v (%s)", e.Kind, e.Reader)
	}
	return fmt.Sprintf("%v (%s): %s", e.Kind, e.Reader, strings.TrimPrefix(e.Err.Error(), "sam: "))
}

// Unwrap returns Kind only (see the type's documentation).
func (e *PSAMError) Unwrap() error { return e.Kind }
