package reader

import (
	"errors"
	"fmt"
)

// Sentinel errors of card and reader I/O. Callers decide with errors.Is.
var (
	// ErrCardRemoved: the card left the field (or was torn away) before the
	// exchange finished. Whether a command took effect on the card is unknown.
	ErrCardRemoved = errors.New("reader: card removed")
	// ErrTimeout: the card or reader did not answer in time.
	ErrTimeout = errors.New("reader: timeout")
	// ErrTransport: the reader or its link failed (USB gone, serial error,
	// pcscd unreachable, garbled frame). Distinct from a card status word.
	ErrTransport = errors.New("reader: transport fault")
	// ErrMalformed: a response was too short or inconsistent to parse.
	ErrMalformed = errors.New("reader: malformed response")
)

// StatusError is a card's answer with a status word other than 9000.
// It is what the card said, not a transport failure.
type StatusError struct {
	SW  SW     // the status word
	Cmd string // short name of the command, e.g. "DEBIT FOR PURCHASE"
}

func (e *StatusError) Error() string {
	if e.Cmd == "" {
		return fmt.Sprintf("reader: card answered %s", e.SW)
	}
	return fmt.Sprintf("reader: %s: card answered %s", e.Cmd, e.SW)
}
