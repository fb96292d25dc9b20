package epurse

import (
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Sentinel errors of the e-purse. Callers decide with errors.Is; card
// status words other than those below come back as *reader.StatusError and
// malformed responses wrap reader.ErrMalformed.
var (
	// ErrInsufficientBalance: the card refused a purchase because the
	// amount exceeds balance plus overdraft (SW 9401).
	ErrInsufficientBalance = errors.New("epurse: insufficient balance")
	// ErrLocked: the application or the key it needs is locked (SW 9303,
	// or 6983 on a key) or the PIN is blocked (6983 on VERIFY).
	ErrLocked = errors.New("epurse: locked")
	// ErrMACInvalid: a MAC did not verify (the card answered 9302, or the
	// terminal found the card's MAC wrong).
	ErrMACInvalid = errors.New("epurse: MAC invalid")
	// ErrUnsupportedAlgorithm: the card reports an algorithm identifier this
	// package does not implement.
	ErrUnsupportedAlgorithm = errors.New("epurse: unsupported algorithm")
	// ErrKeyLength: a key has the wrong length for its algorithm.
	ErrKeyLength = errors.New("epurse: wrong key length")
	// ErrBadRequest: an argument cannot be encoded (e.g. a PIN that is not
	// 2 to 12 decimal digits, a data field of the wrong length).
	ErrBadRequest = errors.New("epurse: bad request")
	// ErrNoProof: GET TRANSACTION PROVE found no proof for the requested
	// counter (SW 9406), so the card holds no such transaction.
	ErrNoProof = errors.New("epurse: transaction proof not available")
	// ErrNoSystemPIN: the SAM (or key service) holds no system-PIN master
	// key for the card's key version, so it cannot open loads with the
	// system PIN (purchases do not need it). A key file or PSAM without
	// that key works for purchases only.
	ErrNoSystemPIN = errors.New("epurse: no system-PIN master key for the card: loads need one")
	// ErrWrongCard: a recovery was attempted on a card other than the one
	// of the pending transaction.
	ErrWrongCard = errors.New("epurse: not the card of the pending transaction")
	// ErrNoChallenge: a command under secure messaging was sent without a
	// fresh challenge (SW 6984: no GET CHALLENGE right before it, or the
	// challenge was used up by another command).
	ErrNoChallenge = errors.New("epurse: no card challenge for the secure-messaging MAC")
	// ErrMACMissing: the card wants the command under secure messaging
	// and got it without a MAC (SW 6987).
	ErrMACMissing = errors.New("epurse: secure-messaging MAC missing")
	// ErrAppBlocked: the e-purse application is blocked (APPLICATION
	// BLOCK): SELECT answered 6A81 (temporarily blocked: APPLICATION
	// UNBLOCK reopens it) or 9303 (permanently blocked; the error then
	// wraps ErrLocked too). A blocked application refuses purchases and
	// loads.
	ErrAppBlocked = errors.New("epurse: application blocked")
)

// PINError is a wrong PIN: VERIFY or CHANGE PIN answered 63Cx. Retries is
// the number of tries left (x).
type PINError struct {
	Retries int
}

// Error implements error.
func (e *PINError) Error() string {
	return fmt.Sprintf("epurse: wrong PIN, %d tries left", e.Retries)
}

// ReasonCode is the short, stable reason a terminal stores and journals
// with a voided or uncertain purchase or load (the journal is evidence, not
// a log: no free text).
func ReasonCode(err error) string {
	var se *reader.StatusError
	switch {
	case errors.Is(err, ErrInsufficientBalance):
		return "insufficient-balance"
	case errors.Is(err, ErrLocked):
		return "card-locked"
	case errors.Is(err, ErrAppBlocked):
		return "app-blocked"
	case errors.Is(err, ErrNoChallenge):
		return "no-challenge"
	case errors.Is(err, ErrMACMissing):
		return "mac-missing"
	case errors.Is(err, ErrMACInvalid):
		return "mac-invalid"
	case errors.Is(err, ErrWrongCard):
		return "wrong-card"
	case errors.Is(err, reader.ErrCardRemoved):
		return "card-removed"
	case errors.Is(err, reader.ErrTimeout):
		return "card-timeout"
	case errors.As(err, &se):
		return fmt.Sprintf("card-sw-%04X", uint16(se.SW))
	case err == nil:
		return "unknown"
	}
	return "card-answer-lost"
}

// Transient reports whether err is the card or its link failing during a
// command (removed, timed out, a broken transport or answer): the same card
// may settle it at its next tap.
func Transient(err error) bool {
	return errors.Is(err, reader.ErrCardRemoved) || errors.Is(err, reader.ErrTimeout) ||
		errors.Is(err, reader.ErrTransport) || errors.Is(err, reader.ErrMalformed)
}
