// Package reader holds the contracts every credential reader of yktd meets:
// PC/SC and UART NFC readers, QR scanners and Wiegand inputs all deliver
// Events, and readers that hold a card hand out a Card that transmits APDUs.
//
// Drivers live in sub-packages (reader/pcsc, reader/sim, ...); the e-purse
// application (reader/epurse) works over any Card.
package reader

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"
)

// Card is a card in a reader's field (or a SAM in a contact slot) that
// exchanges ISO 7816-4 APDUs.
//
// Transmit sends one command APDU and returns the raw response, status word
// included. It returns an error wrapping ErrCardRemoved when the card left the
// field, ErrTimeout when the card did not answer in time, and an error wrapping
// ErrTransport for any other reader fault. A status word other than 9000 is
// not a Transmit error: it comes back in the response (see Exchange).
type Card interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// Reader is one credential source. Run watches the device until ctx is done
// and sends every event on events. It returns nil when ctx was cancelled and
// an error when the device failed (unplugged, port gone); the caller (see
// Manager) then restarts it with backoff.
//
// Run must not close events: several readers share one channel.
type Reader interface {
	// Name identifies the reader in logs and events, e.g. "pcsc:ACS ACR122U 00 00".
	Name() string
	Run(ctx context.Context, events chan<- Event) error
}

// EventKind says what happened at a reader.
type EventKind int

// Event kinds.
const (
	// CardPresent: a card entered the field; Event.Card talks to it until
	// CardRemoved for the same reader.
	CardPresent EventKind = iota + 1
	// CardRemoved: the card left the field.
	CardRemoved
	// TextCredential: a scanner read a text code (campus QR, barcode).
	TextCredential
	// NumberCredential: a numeric credential (Wiegand, external recogniser id).
	NumberCredential
)

// String returns the event kind's name for logs.
func (k EventKind) String() string {
	switch k {
	case CardPresent:
		return "card-present"
	case CardRemoved:
		return "card-removed"
	case TextCredential:
		return "text"
	case NumberCredential:
		return "number"
	default:
		return fmt.Sprintf("event(%d)", int(k))
	}
}

// Technology is the air interface or source of a credential.
type Technology string

// Technologies reported by drivers.
const (
	TechUnknown   Technology = "unknown"
	TechISO14443A Technology = "iso14443a" // CPU card or phone, type A
	TechISO14443B Technology = "iso14443b" // CPU card or phone, type B
	TechMifare    Technology = "mifare"    // MIFARE Classic (memory card)
	TechContact   Technology = "contact"   // ISO 7816 contact card, e.g. a PSAM
	TechQR        Technology = "qr"        // optical code from a scanner
	TechWiegand   Technology = "wiegand"   // Wiegand bit stream
)

// Event is something a reader saw. Which fields are set depends on Kind.
type Event struct {
	Reader string     // Reader.Name() of the source
	Kind   EventKind  // what happened
	Time   time.Time  // when the driver saw it (the driver's clock)
	Tech   Technology // card technology or credential source

	ATR  []byte // CardPresent: answer to reset (PC/SC) or ATS-derived ATR
	UID  []byte // CardPresent: anti-collision UID when known
	Card Card   // CardPresent: handle for APDUs, valid until CardRemoved

	Text   string // TextCredential: the decoded code
	Number uint64 // NumberCredential: the number
	Bits   int    // NumberCredential: frame length in bits (Wiegand 26, 34...)
}

// String renders the event for logs without dumping secrets: UIDs and ATRs
// are identifiers, not holder data; text credentials are shown by length only.
func (e Event) String() string {
	switch e.Kind {
	case CardPresent:
		return fmt.Sprintf("%s %s tech=%s uid=%s atr=%s", e.Reader, e.Kind, e.Tech, hex.EncodeToString(e.UID), hex.EncodeToString(e.ATR))
	case TextCredential:
		return fmt.Sprintf("%s %s tech=%s len=%d", e.Reader, e.Kind, e.Tech, len(e.Text))
	case NumberCredential:
		return fmt.Sprintf("%s %s tech=%s bits=%d", e.Reader, e.Kind, e.Tech, e.Bits)
	default:
		return fmt.Sprintf("%s %s", e.Reader, e.Kind)
	}
}
