package epurse

import (
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Command builders and parsers of the card writes after issuance (research
// notes kiosk-water §3): GET CHALLENGE, UPDATE BINARY under secure
// messaging, APPLICATION BLOCK and UNBLOCK, PIN RELOAD. A command under
// secure messaging carries the class byte with the "header authenticated"
// bit (04 for the ISO UPDATE BINARY, 84 for the proprietary block
// commands) and ends with its 4-byte MAC; its Lc counts the MAC.

// Class bytes of the commands under secure messaging.
const (
	CLASecureISO  byte = 0x04 // ISO command with a MAC (UPDATE BINARY 04 D6)
	CLASecureProp byte = 0x84 // proprietary command with a MAC (84 1E, 84 18)
)

// Instructions of the card writes.
const (
	InsGetChallenge byte = 0x84
	InsUpdateBinary byte = 0xD6
	InsAppBlock     byte = 0x1E
	InsAppUnblock   byte = 0x18
	InsPINChange    byte = 0x5E // CHANGE PIN (P1 01) and PIN RELOAD (P1 00)
)

// ChallengeLen is the length of the challenge a secure-messaging MAC uses.
const ChallengeLen = 4

// MaxSecureData is the most data one UPDATE BINARY under secure messaging
// carries: Lc = data + MAC is one byte.
const MaxSecureData = 255 - 4

// GetChallengeCommand is GET CHALLENGE: 00 84 00 00 04. The card's answer
// is the challenge of the next command only.
func GetChallengeCommand() reader.Command {
	return reader.Command{CLA: 0x00, INS: InsGetChallenge, Le: ChallengeLen, HasLe: true, Name: "GET CHALLENGE"}
}

// ParseChallenge decodes the answer of GET CHALLENGE (4 bytes).
func ParseChallenge(b []byte) ([4]byte, error) {
	if err := wantLen("GET CHALLENGE", b, ChallengeLen); err != nil {
		return [4]byte{}, err
	}
	return [4]byte(b), nil
}

// UpdateBinaryHeader is the header of UPDATE BINARY under secure messaging
// of n data bytes at offset of the file sfi: 04 D6 (80|sfi) offset n+4, the
// first MAC input. It refuses an SFI above 30 and n outside 1..MaxSecureData.
func UpdateBinaryHeader(sfi, offset byte, n int) ([5]byte, error) {
	if sfi == 0 || sfi > 30 {
		return [5]byte{}, fmt.Errorf("%w: SFI %d, want 1 to 30", ErrBadRequest, sfi)
	}
	if n < 1 || n > MaxSecureData {
		return [5]byte{}, fmt.Errorf("%w: %d bytes of data, want 1 to %d", ErrBadRequest, n, MaxSecureData)
	}
	return [5]byte{CLASecureISO, InsUpdateBinary, 0x80 | sfi, offset, byte(n + 4)}, nil
}

// UpdateBinaryCommand is UPDATE BINARY under secure messaging: 04 D6
// (80|sfi) offset Lc data ‖ MAC, Lc = len(data)+4.
func UpdateBinaryCommand(sfi, offset byte, data []byte, mac [4]byte) (reader.Command, error) {
	h, err := UpdateBinaryHeader(sfi, offset, len(data))
	if err != nil {
		return reader.Command{}, err
	}
	return secureCommand(h, data, mac, "UPDATE BINARY"), nil
}

// AppBlockHeader is the header of APPLICATION BLOCK: 84 1E 00 P2 04, P2 00
// blocks the application temporarily (APPLICATION UNBLOCK reopens it), 01
// permanently.
func AppBlockHeader(permanent bool) [5]byte {
	p2 := byte(0x00)
	if permanent {
		p2 = 0x01
	}
	return [5]byte{CLASecureProp, InsAppBlock, 0x00, p2, 0x04}
}

// AppBlockCommand is APPLICATION BLOCK with its MAC (over the header, IV
// the challenge, under the card's DABK).
func AppBlockCommand(permanent bool, mac [4]byte) reader.Command {
	return secureCommand(AppBlockHeader(permanent), nil, mac, "APPLICATION BLOCK")
}

// AppUnblockHeader is the header of APPLICATION UNBLOCK: 84 18 00 00 04.
func AppUnblockHeader() [5]byte {
	return [5]byte{CLASecureProp, InsAppUnblock, 0x00, 0x00, 0x04}
}

// AppUnblockCommand is APPLICATION UNBLOCK with its MAC (over the header,
// IV the challenge, under the card's DAUK).
func AppUnblockCommand(mac [4]byte) reader.Command {
	return secureCommand(AppUnblockHeader(), nil, mac, "APPLICATION UNBLOCK")
}

func secureCommand(h [5]byte, data []byte, mac [4]byte, name string) reader.Command {
	d := make([]byte, 0, len(data)+4)
	d = append(append(d, data...), mac[:]...)
	return reader.Command{CLA: h[0], INS: h[1], P1: h[2], P2: h[3], Data: d, Name: name}
}

// PINReloadCommand is PIN RELOAD (重装 PIN, the issuer sets a new holder
// PIN without the old one and resets its tries): 80 5E 00 00 Lc PIN ‖ MAC,
// the PIN a BCD block as EncodePIN makes it, the MAC PINReloadMAC over it.
func PINReloadCommand(pin []byte, mac [4]byte) (reader.Command, error) {
	if _, err := bcdPIN(pin); err != nil {
		return reader.Command{}, err
	}
	d := append(append([]byte(nil), pin...), mac[:]...)
	return reader.Command{CLA: 0x80, INS: InsPINChange, P1: 0x00, P2: 0x00, Data: d, Name: "PIN RELOAD"}, nil
}

// Status words of the secure-messaging commands (research notes
// kiosk-water §3.3).
const (
	SWNoChallenge reader.SW = 0x6984 // no fresh GET CHALLENGE before the command
	SWMACMissing  reader.SW = 0x6987 // the command needs secure messaging and has no MAC
	SWMACWrong    reader.SW = 0x6988 // the secure-messaging MAC is wrong
)

// smError maps the answers of the commands under secure messaging: 6984
// ErrNoChallenge, 6987 ErrMACMissing, 6988 ErrMACInvalid, 6A81
// ErrAppBlocked; then as cardError (9303 and 6983 ErrLocked, 63Cx
// *PINError ...). The *reader.StatusError stays in the chain.
func smError(err error) error {
	var se *reader.StatusError
	if !errors.As(err, &se) {
		return err
	}
	switch se.SW {
	case SWNoChallenge:
		return fmt.Errorf("%w: %w", ErrNoChallenge, err)
	case SWMACMissing:
		return fmt.Errorf("%w: %w", ErrMACMissing, err)
	case SWMACWrong:
		return fmt.Errorf("%w: %w", ErrMACInvalid, err)
	case reader.SWFuncNotSupported:
		return fmt.Errorf("%w: %w", ErrAppBlocked, err)
	}
	return cardError(err)
}

// smRefusingSW are the answers with which a card refuses a write under
// secure messaging without changing anything: a check of the command, the
// MAC or the security state failed. Any other status word (a memory
// failure 65xx above all), and every transport error, leaves the write
// uncertain.
var smRefusingSW = map[reader.SW]bool{
	SWNoChallenge: true, SWMACMissing: true, SWMACWrong: true,
	reader.SWWrongLength: true, reader.SWSecurityNotSatisfied: true, reader.SWAuthBlocked: true,
	reader.SWConditionsNotMet: true, reader.SWWrongData: true, reader.SWFuncNotSupported: true,
	reader.SWFileNotFound: true, reader.SWWrongP1P2: true, reader.SWRefDataNotFound: true,
	reader.SWInsNotSupported: true, reader.SWClaNotSupported: true, reader.SWApplicationLocked: true,
	0x6B00: true, // offset outside the file
	0x6981: true, // command incompatible with the file structure
}

// refusedBySW reports whether err is a card's answer in refusing (the
// command changed nothing).
func refusedBySW(err error, refusing map[reader.SW]bool) bool {
	var se *reader.StatusError
	return errors.As(err, &se) && refusing[se.SW]
}
