package protocol

import (
	"errors"
	"fmt"
)

// Code is a stable error code of the wire protocol: the ledger sends it in an
// Error body, and every error this package returns for a message carries
// one. The numbers are part of the wire format: never renumber, only add.
type Code uint16

// Error codes.
const (
	CodeMalformed      Code = 1  // the bytes do not decode as the message the receiver expects
	CodeBadSignature   Code = 2  // the COSE signature does not verify (wrong key, forged, wrong device in the AAD)
	CodeUnknownDevice  Code = 3  // no key is known under the message's kid
	CodeRevoked        Code = 4  // the device (or key) was revoked
	CodeTokenInvalid   Code = 5  // the enrolment token is unknown, used or expired
	CodeGap            Code = 6  // a batch starts after the high-water mark + 1: Expected says where to start
	CodeFork           Code = 7  // a batch overlaps held records with different bytes: refused, alert recorded
	CodeChainBroken    Code = 8  // PrevHead or a record's Prev does not link to the previous record
	CodeStaleVersion   Code = 9  // a version older than the one held
	CodeTooLarge       Code = 10 // the message exceeds its size bound
	CodeNoPendingLoad  Code = 11 // the card has no pending load matching the request
	CodeMACInvalid     Code = 12 // a card MAC1 or TAC does not verify
	CodeInternal       Code = 13 // the server failed: retry later
	CodeUnsupportedAlg Code = 14 // the signature algorithm is not registered, or not the one of the key
	CodeRateLimited    Code = 15 // too many requests: retry later

	// Refusals of money onto a card or into an account (issue 14): the
	// device shows each to the holder (docs/protocol.md §11 has the texts).
	CodeSpendOnly        Code = 16 // the account may spend, not load (staff who left)
	CodeOverdrawnFrozen  Code = 17 // the account is overdrawn and frozen until repaid
	CodeAccountLost      Code = 18 // the account's card was reported lost
	CodeAccountFrozen    Code = 19 // the account is frozen
	CodeAccountDormant   Code = 20 // the account is dormant: verify the card at a kiosk
	CodeAccountCancelled Code = 21 // the account, or this card of it, is cancelled
	CodeAccountExpired   Code = 22 // the account is past its validity end
	CodePurseLimit       Code = 23 // the card's balance would exceed its purse limit
	CodePINInvalid       Code = 24 // the holder's PIN is wrong
	CodePINLocked        Code = 25 // too many wrong PINs: see the service desk
	CodeNoAccount        Code = 26 // the card belongs to no account
	CodeBankRefused      Code = 27 // the bank refused the transfer (funds short, account closed)
	CodeBankUnavailable  Code = 28 // the bank did not answer: retry later
	CodeAmountLimit      Code = 29 // the amount is outside what the service allows

	// CodePSAMBinding: the ledger holds the device because its PSAM is
	// not bound to it (moved from another device, or another PSAM swapped
	// in; issue 16): it takes no money until an operator re-binds it
	// (ledgerd device rebind). Its journal is still taken.
	CodePSAMBinding Code = 30

	// Refusals of the self-service and desk trades (issue 15; texts in
	// CodeText and docs/protocol.md §8.6).
	CodeIDInvalid     Code = 31 // the national ID number does not match the account's (Error.TriesLeft)
	CodeTriesLocked   Code = 32 // too many wrong ID numbers: locked until Error.Until
	CodeStateRefused  Code = 33 // the account's state (or the card write's) does not allow the trade
	CodeWritePending  Code = 34 // a card write of the same field waits for the card: complete it first (补写)
	CodeInsufficient  Code = 35 // the account's balance is less than the payment
	CodeLoadUnsettled Code = 36 // a load of the card is authorised and not settled
	CodeUnknownRef    Code = 37 // no card write or fee order of that id (for this card)
	CodeWriteMismatch Code = 38 // the card's read-back does not match the write
	codeMax                = CodeWriteMismatch
)

var codeNames = [...]string{
	CodeMalformed:      "malformed",
	CodeBadSignature:   "bad-signature",
	CodeUnknownDevice:  "unknown-device",
	CodeRevoked:        "revoked",
	CodeTokenInvalid:   "token-invalid",
	CodeGap:            "gap",
	CodeFork:           "fork",
	CodeChainBroken:    "chain-broken",
	CodeStaleVersion:   "stale-version",
	CodeTooLarge:       "too-large",
	CodeNoPendingLoad:  "no-pending-load",
	CodeMACInvalid:     "mac-invalid",
	CodeInternal:       "internal",
	CodeUnsupportedAlg: "unsupported-alg",
	CodeRateLimited:    "rate-limited",

	CodeSpendOnly:        "spend-only",
	CodeOverdrawnFrozen:  "overdrawn-frozen",
	CodeAccountLost:      "account-lost",
	CodeAccountFrozen:    "account-frozen",
	CodeAccountDormant:   "account-dormant",
	CodeAccountCancelled: "account-cancelled",
	CodeAccountExpired:   "account-expired",
	CodePurseLimit:       "purse-limit",
	CodePINInvalid:       "pin-invalid",
	CodePINLocked:        "pin-locked",
	CodeNoAccount:        "no-account",
	CodeBankRefused:      "bank-refused",
	CodeBankUnavailable:  "bank-unavailable",
	CodeAmountLimit:      "amount-limit",

	CodePSAMBinding:   "psam-binding",
	CodeIDInvalid:     "id-invalid",
	CodeTriesLocked:   "tries-locked",
	CodeStateRefused:  "state-refused",
	CodeWritePending:  "write-pending",
	CodeInsufficient:  "insufficient",
	CodeLoadUnsettled: "load-unsettled",
	CodeUnknownRef:    "unknown-ref",
	CodeWriteMismatch: "write-mismatch",
}

// String returns the code's stable name ("gap", "bad-signature", ...).
func (c Code) String() string {
	if c.Valid() {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}

// Valid reports whether c is a code this version knows.
func (c Code) Valid() bool { return c >= CodeMalformed && c <= codeMax }

// sentinel is the comparable value behind the Err* variables: errors.Is
// matches an *Error against the sentinel of its code.
type sentinel Code

func (s sentinel) Error() string { return "protocol: " + Code(s).String() }

// Sentinels, one per code, for errors.Is. Every *Error matches the sentinel
// of its Code, whether it was made here or decoded from a ledger's answer.
var (
	ErrMalformed     error = sentinel(CodeMalformed)
	ErrBadSignature  error = sentinel(CodeBadSignature)
	ErrUnknownDevice error = sentinel(CodeUnknownDevice)
	// ErrUnknownKey is ErrUnknownDevice: code 3 covers every kid the
	// verifier has no key for, a device's or a ledger key's.
	ErrUnknownKey           = ErrUnknownDevice
	ErrRevoked        error = sentinel(CodeRevoked)
	ErrTokenInvalid   error = sentinel(CodeTokenInvalid)
	ErrGap            error = sentinel(CodeGap)
	ErrFork           error = sentinel(CodeFork)
	ErrChainBroken    error = sentinel(CodeChainBroken)
	ErrStale          error = sentinel(CodeStaleVersion)
	ErrTooLarge       error = sentinel(CodeTooLarge)
	ErrNoPendingLoad  error = sentinel(CodeNoPendingLoad)
	ErrMACInvalid     error = sentinel(CodeMACInvalid)
	ErrInternal       error = sentinel(CodeInternal)
	ErrUnsupportedAlg error = sentinel(CodeUnsupportedAlg)
	ErrRateLimited    error = sentinel(CodeRateLimited)

	ErrSpendOnly        error = sentinel(CodeSpendOnly)
	ErrOverdrawnFrozen  error = sentinel(CodeOverdrawnFrozen)
	ErrAccountLost      error = sentinel(CodeAccountLost)
	ErrAccountFrozen    error = sentinel(CodeAccountFrozen)
	ErrAccountDormant   error = sentinel(CodeAccountDormant)
	ErrAccountCancelled error = sentinel(CodeAccountCancelled)
	ErrAccountExpired   error = sentinel(CodeAccountExpired)
	ErrPurseLimit       error = sentinel(CodePurseLimit)
	ErrPINInvalid       error = sentinel(CodePINInvalid)
	ErrPINLocked        error = sentinel(CodePINLocked)
	ErrNoAccount        error = sentinel(CodeNoAccount)
	ErrBankRefused      error = sentinel(CodeBankRefused)
	ErrBankUnavailable  error = sentinel(CodeBankUnavailable)
	ErrAmountLimit      error = sentinel(CodeAmountLimit)

	ErrPSAMBinding   error = sentinel(CodePSAMBinding)
	ErrIDInvalid     error = sentinel(CodeIDInvalid)
	ErrTriesLocked   error = sentinel(CodeTriesLocked)
	ErrStateRefused  error = sentinel(CodeStateRefused)
	ErrWritePending  error = sentinel(CodeWritePending)
	ErrInsufficient  error = sentinel(CodeInsufficient)
	ErrLoadUnsettled error = sentinel(CodeLoadUnsettled)
	ErrUnknownRef    error = sentinel(CodeUnknownRef)
	ErrWriteMismatch error = sentinel(CodeWriteMismatch)
)

// Error is both the wire Error message (the CBOR body of an HTTP 4xx/5xx
// answer, unsigned, Content-Type application/cbor) and the Go error this
// package returns for a refused message. errors.Is(err, ErrGap) and the
// other sentinels match on Code; errors.As gives Expected.
type Error struct {
	Code Code `cbor:"1,keyasint" json:"code"`
	// Message is a short English explanation for logs; receivers decide on
	// Code only.
	Message string `cbor:"2,keyasint,omitempty" json:"message,omitempty"`
	// Expected is, for CodeGap, the sequence the ledger wants next
	// (its high-water mark + 1).
	Expected uint64 `cbor:"3,keyasint,omitempty" json:"expected,omitempty"`
	// TriesLeft is, for pin-invalid and id-invalid, how many more wrong
	// tries the ledger takes before it locks (absent: not said).
	TriesLeft int `cbor:"4,keyasint,omitempty" json:"tries_left,omitempty"`
	// Until is, for tries-locked, when the lockout ends (Unix seconds).
	Until int64 `cbor:"5,keyasint,omitempty" json:"until,omitempty"`

	err error // the cause, when made locally; not on the wire
}

// Errorf returns an *Error of code c with a formatted message; a %w verb in
// format makes the wrapped error its cause (errors.Is and errors.As see it).
func Errorf(c Code, format string, args ...any) *Error {
	w := fmt.Errorf(format, args...)
	return &Error{Code: c, Message: w.Error(), err: errors.Unwrap(w)}
}

// Error returns "protocol: <code name>: <message>".
func (e *Error) Error() string {
	s := "protocol: " + e.Code.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Code == CodeGap && e.Expected != 0 {
		s += fmt.Sprintf(" (expected %d)", e.Expected)
	}
	return s
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && Code(s) == e.Code
}

// CodeOf returns the code of the first *Error (or sentinel) in err's chain, CodeInternal
// for any other non-nil error, and 0 for nil: what a ledger puts in its
// Error answer.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var s sentinel
	if errors.As(err, &s) {
		return Code(s)
	}
	return CodeInternal
}

// MaxErrorSize bounds an encoded Error.
const MaxErrorSize = 1024

// maxErrorMessage bounds Error.Message (bytes).
const maxErrorMessage = 512

// EncodeError returns the canonical encoding of the wire Error: Code,
// Message (cut to 512 bytes on a UTF-8 boundary) and Expected. The cause is
// not sent.
func EncodeError(e *Error) ([]byte, error) {
	if e == nil || !e.Code.Valid() {
		return nil, fmt.Errorf("protocol: encode error: invalid code")
	}
	out := Error{Code: e.Code, Message: truncateUTF8(e.Message, maxErrorMessage), Expected: e.Expected, TriesLeft: e.TriesLeft, Until: e.Until}
	return encode("error", &out, MaxErrorSize)
}

// DecodeError decodes an Error body from a ledger. A code this version does
// not know is kept (Code.Valid reports false) so that a newer ledger's
// answer still reads as an error.
func DecodeError(b []byte) (*Error, error) {
	var e Error
	if err := decodeStrict("error", b, &e, smallDec, MaxErrorSize); err != nil {
		return nil, err
	}
	if e.Code == 0 {
		return nil, Errorf(CodeMalformed, "error: code 0")
	}
	if len(e.Message) > maxErrorMessage {
		return nil, Errorf(CodeMalformed, "error: message of %d bytes", len(e.Message))
	}
	if e.TriesLeft < 0 || e.Until < 0 {
		return nil, Errorf(CodeMalformed, "error: tries left %d, until %d", e.TriesLeft, e.Until)
	}
	return &e, nil
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // do not cut inside a rune
		n--
	}
	return s[:n]
}
