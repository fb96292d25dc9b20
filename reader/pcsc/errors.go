package pcsc

import (
	"fmt"

	"github.com/openykt/yktd/reader"
)

// PC/SC return codes (pcsclite.h) that the driver tells apart. Both
// backends report these numbers: pcscd's wire rv and ebfe/scard's Error.
const (
	rvSuccess            = 0x00000000
	rvCancelled          = 0x80100002 // SCARD_E_CANCELLED
	rvInvalidHandle      = 0x80100003 // SCARD_E_INVALID_HANDLE
	rvInsufficientBuffer = 0x80100008 // SCARD_E_INSUFFICIENT_BUFFER
	rvUnknownReader      = 0x80100009 // SCARD_E_UNKNOWN_READER
	rvTimeout            = 0x8010000A // SCARD_E_TIMEOUT
	rvSharingViolation   = 0x8010000B // SCARD_E_SHARING_VIOLATION
	rvNoSmartcard        = 0x8010000C // SCARD_E_NO_SMARTCARD
	rvProtoMismatch      = 0x8010000F // SCARD_E_PROTO_MISMATCH
	rvCommError          = 0x80100013 // SCARD_F_COMM_ERROR
	rvNotTransacted      = 0x80100016 // SCARD_E_NOT_TRANSACTED
	rvReaderUnavailable  = 0x80100017 // SCARD_E_READER_UNAVAILABLE
	rvNoService          = 0x8010001D // SCARD_E_NO_SERVICE
	rvServiceStopped     = 0x8010001E // SCARD_E_SERVICE_STOPPED
	rvNoReaders          = 0x8010002E // SCARD_E_NO_READERS_AVAILABLE
	rvUnsupportedCard    = 0x80100065 // SCARD_W_UNSUPPORTED_CARD
	rvUnresponsiveCard   = 0x80100066 // SCARD_W_UNRESPONSIVE_CARD
	rvUnpoweredCard      = 0x80100067 // SCARD_W_UNPOWERED_CARD
	rvResetCard          = 0x80100068 // SCARD_W_RESET_CARD
	rvRemovedCard        = 0x80100069 // SCARD_W_REMOVED_CARD
)

var rvNames = map[uint32]string{
	rvCancelled:          "SCARD_E_CANCELLED",
	rvInvalidHandle:      "SCARD_E_INVALID_HANDLE",
	rvInsufficientBuffer: "SCARD_E_INSUFFICIENT_BUFFER",
	rvUnknownReader:      "SCARD_E_UNKNOWN_READER",
	rvTimeout:            "SCARD_E_TIMEOUT",
	rvSharingViolation:   "SCARD_E_SHARING_VIOLATION",
	rvNoSmartcard:        "SCARD_E_NO_SMARTCARD",
	rvProtoMismatch:      "SCARD_E_PROTO_MISMATCH",
	rvCommError:          "SCARD_F_COMM_ERROR",
	rvNotTransacted:      "SCARD_E_NOT_TRANSACTED",
	rvReaderUnavailable:  "SCARD_E_READER_UNAVAILABLE",
	rvNoService:          "SCARD_E_NO_SERVICE",
	rvServiceStopped:     "SCARD_E_SERVICE_STOPPED",
	rvNoReaders:          "SCARD_E_NO_READERS_AVAILABLE",
	rvUnsupportedCard:    "SCARD_W_UNSUPPORTED_CARD",
	rvUnresponsiveCard:   "SCARD_W_UNRESPONSIVE_CARD",
	rvUnpoweredCard:      "SCARD_W_UNPOWERED_CARD",
	rvResetCard:          "SCARD_W_RESET_CARD",
	rvRemovedCard:        "SCARD_W_REMOVED_CARD",
}

// Error is a PC/SC failure: the operation and the PC/SC return code. It
// unwraps to reader.ErrCardRemoved (the card left or was reset under us:
// SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD, SCARD_W_RESET_CARD,
// SCARD_W_UNPOWERED_CARD, SCARD_W_UNRESPONSIVE_CARD), reader.ErrTimeout
// (SCARD_E_TIMEOUT) or reader.ErrTransport (everything else), so callers
// decide with errors.Is.
type Error struct {
	Op   string // "connect", "transmit", ...
	Code uint32 // SCARD_* return value
}

// Error renders e.g. "pcsc: transmit: SCARD_W_REMOVED_CARD (0x80100069)".
func (e *Error) Error() string {
	name := rvNames[e.Code]
	if name == "" {
		name = "PC/SC error"
	}
	return fmt.Sprintf("pcsc: %s: %s (0x%08X)", e.Op, name, e.Code)
}

// Unwrap returns the reader sentinel the code maps to.
func (e *Error) Unwrap() error {
	switch e.Code {
	case rvRemovedCard, rvNoSmartcard, rvResetCard, rvUnpoweredCard, rvUnresponsiveCard:
		return reader.ErrCardRemoved
	case rvTimeout:
		return reader.ErrTimeout
	default:
		return reader.ErrTransport
	}
}

// rvError returns nil for SCARD_S_SUCCESS and an *Error otherwise.
func rvError(op string, rv uint32) error {
	if rv == rvSuccess {
		return nil
	}
	return &Error{Op: op, Code: rv}
}
