package ledger

import (
	"errors"
	"fmt"
)

// Sentinel errors of the ledger; match them with errors.Is. The HTTP server
// maps each to its stable protocol error code (see codeOf in server.go).
var (
	// ErrInUse: another process holds the ledger's database lock.
	ErrInUse = errors.New("ledger: database in use by another process")
	// ErrMalformed: a request that does not decode or breaks the message rules.
	ErrMalformed = errors.New("ledger: malformed request")
	// ErrBadSignature: a signature that does not verify under the device key.
	ErrBadSignature = errors.New("ledger: bad signature")
	// ErrUnknownDevice: the device is not enrolled.
	ErrUnknownDevice = errors.New("ledger: unknown device")
	// ErrRevoked: the device was revoked; it gets nothing.
	ErrRevoked = errors.New("ledger: device revoked")
	// ErrTokenInvalid: an enrolment token that is unknown, used, expired or
	// issued for another device.
	ErrTokenInvalid = errors.New("ledger: enrolment token invalid")
	// ErrGap: a batch starts after the sequence the ledger expects next.
	// The error is a *GapError carrying the expected sequence.
	ErrGap = errors.New("ledger: sequence gap")
	// ErrFork: a batch offers different bytes under a sequence the ledger
	// already holds. The batch is refused and an alert recorded.
	ErrFork = errors.New("ledger: journal fork")
	// ErrChainBroken: a batch whose hash links do not chain from the held head.
	ErrChainBroken = errors.New("ledger: hash chain broken")
	// ErrStaleVersion: a device claims a version the ledger never issued.
	ErrStaleVersion = errors.New("ledger: stale or unknown version")
	// ErrTooLarge: a request above the ledger's size limits.
	ErrTooLarge = errors.New("ledger: request too large")
	// ErrNoPendingLoad: no pending load for that card (and amount).
	ErrNoPendingLoad = errors.New("ledger: no pending load")
	// ErrMACInvalid: a card MAC1 or TAC that does not verify.
	ErrMACInvalid = errors.New("ledger: MAC or TAC invalid")
	// ErrUnsupportedAlg: a signature or card algorithm the ledger does not support.
	ErrUnsupportedAlg = errors.New("ledger: unsupported algorithm")
	// ErrNotFound: no such device, load or version (operator tools).
	ErrNotFound = errors.New("ledger: not found")
	// ErrInvalid: an operator argument breaks the ledger's rules.
	ErrInvalid = errors.New("ledger: invalid argument")
	// ErrCorrupt: stored bytes that do not decode.
	ErrCorrupt = errors.New("ledger: database corrupt")
)

// GapError is the error of a batch that leaves a gap: Expected is the
// sequence the ledger wants next. It matches ErrGap with errors.Is.
type GapError struct {
	Expected uint64
	Got      uint64
}

// Error says where the batch started and where the ledger expected it.
func (e *GapError) Error() string {
	return fmt.Sprintf("ledger: sequence gap: batch starts at %d, expected %d", e.Got, e.Expected)
}

// Is makes errors.Is(err, ErrGap) true.
func (e *GapError) Is(target error) bool { return target == ErrGap }
