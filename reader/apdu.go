package reader

import (
	"context"
	"errors"
	"fmt"
)

// SW is an ISO 7816-4 status word (SW1 SW2).
type SW uint16

// Status words used across yktd (ISO 7816-4 section 5.1.3 and the PBOC
// e-purse profile of JR/T 0025).
const (
	SWOK                   SW = 0x9000
	SWWrongLength          SW = 0x6700
	SWSecurityNotSatisfied SW = 0x6982
	SWAuthBlocked          SW = 0x6983 // PIN or key locked
	SWDataInvalid          SW = 0x6984 // reference data not usable
	SWConditionsNotMet     SW = 0x6985
	SWWrongData            SW = 0x6A80
	SWFuncNotSupported     SW = 0x6A81
	SWFileNotFound         SW = 0x6A82
	SWRecordNotFound       SW = 0x6A83
	SWWrongP1P2            SW = 0x6A86
	SWRefDataNotFound      SW = 0x6A88
	SWInsNotSupported      SW = 0x6D00
	SWClaNotSupported      SW = 0x6E00
	SWBalanceInsufficient  SW = 0x9401 // e-purse: amount exceeds balance
	SWMAC1Wrong            SW = 0x9302 // e-purse: MAC invalid (card or SAM side)
	SWKeyIndexUnsupported  SW = 0x9403
	SWApplicationLocked    SW = 0x9303 // e-purse: application locked permanently
)

var swNames = map[SW]string{
	SWOK:                   "ok",
	SWWrongLength:          "wrong length",
	SWSecurityNotSatisfied: "security status not satisfied",
	SWAuthBlocked:          "authentication method blocked",
	SWDataInvalid:          "reference data invalidated",
	SWConditionsNotMet:     "conditions of use not satisfied",
	SWWrongData:            "incorrect data field",
	SWFuncNotSupported:     "function not supported",
	SWFileNotFound:         "file or application not found",
	SWRecordNotFound:       "record not found",
	SWWrongP1P2:            "incorrect P1-P2",
	SWRefDataNotFound:      "referenced data not found",
	SWInsNotSupported:      "instruction not supported",
	SWClaNotSupported:      "class not supported",
	SWBalanceInsufficient:  "insufficient balance",
	SWMAC1Wrong:            "MAC invalid",
	SWKeyIndexUnsupported:  "key index not supported",
	SWApplicationLocked:    "application locked",
}

// SW1 returns the first status byte.
func (s SW) SW1() byte { return byte(s >> 8) }

// SW2 returns the second status byte.
func (s SW) SW2() byte { return byte(s) }

// String renders the status word as hex with its meaning, e.g. "6A82 (file or application not found)".
func (s SW) String() string {
	if n, ok := swNames[s]; ok {
		return fmt.Sprintf("%04X (%s)", uint16(s), n)
	}
	switch s.SW1() {
	case 0x61:
		return fmt.Sprintf("%04X (%d bytes available)", uint16(s), s.SW2())
	case 0x6C:
		return fmt.Sprintf("%04X (wrong Le, exact length %d)", uint16(s), s.SW2())
	case 0x63:
		if s.SW2()&0xF0 == 0xC0 {
			return fmt.Sprintf("%04X (verification failed, %d tries left)", uint16(s), s.SW2()&0x0F)
		}
	}
	return fmt.Sprintf("%04X", uint16(s))
}

// Retries returns the tries left of a 63Cx answer to VERIFY and true, or
// false for any other status word.
func (s SW) Retries() (int, bool) {
	if s.SW1() == 0x63 && s.SW2()&0xF0 == 0xC0 {
		return int(s.SW2() & 0x0F), true
	}
	return 0, false
}

// Command is a short (not extended) command APDU.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte // at most 255 bytes
	// Le is the expected response length; used only when HasLe is set
	// (Le 0 with HasLe means "up to 256 bytes").
	Le    byte
	HasLe bool
	// Name is a short command name for error messages; not transmitted.
	Name string
}

// Bytes encodes the command (ISO 7816-4 cases 1 to 4, short form).
// It panics if Data is longer than 255 bytes: that is a programming error.
func (c Command) Bytes() []byte {
	if len(c.Data) > 255 {
		panic("reader: command data longer than 255 bytes")
	}
	b := make([]byte, 0, 6+len(c.Data))
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.HasLe {
		b = append(b, c.Le)
	}
	return b
}

// Response is a parsed response APDU.
type Response struct {
	Data []byte
	SW   SW
}

// ParseResponse splits a raw response into data and status word.
func ParseResponse(raw []byte) (Response, error) {
	if len(raw) < 2 {
		return Response{}, fmt.Errorf("%w: %d bytes, need at least the 2-byte status word", ErrMalformed, len(raw))
	}
	n := len(raw) - 2
	return Response{Data: raw[:n:n], SW: SW(raw[n])<<8 | SW(raw[n+1])}, nil
}

// maxChained bounds GET RESPONSE chaining so that a card that answers 61xx
// forever cannot hang a terminal.
const maxChained = 16

// Exchange sends cmd to card and returns the final response, handling the
// ISO 7816-4 transport conventions once for every driver: 61xx is followed
// by GET RESPONSE (data accumulated), 6Cxx by a resend with the exact Le.
// It does not judge the final status word; see Transceive for that.
func Exchange(ctx context.Context, card Card, cmd Command) (Response, error) {
	raw, err := card.Transmit(ctx, cmd.Bytes())
	if err != nil {
		return Response{}, wrapCmd(cmd, err)
	}
	resp, err := ParseResponse(raw)
	if err != nil {
		return Response{}, wrapCmd(cmd, err)
	}
	if resp.SW.SW1() == 0x6C {
		again := cmd
		again.Le, again.HasLe = resp.SW.SW2(), true
		raw, err = card.Transmit(ctx, again.Bytes())
		if err != nil {
			return Response{}, wrapCmd(cmd, err)
		}
		if resp, err = ParseResponse(raw); err != nil {
			return Response{}, wrapCmd(cmd, err)
		}
	}
	data := append([]byte(nil), resp.Data...)
	for i := 0; resp.SW.SW1() == 0x61; i++ {
		if i == maxChained {
			return Response{}, fmt.Errorf("%w: %s: more than %d GET RESPONSE rounds", ErrMalformed, cmdName(cmd), maxChained)
		}
		get := Command{CLA: 0x00, INS: 0xC0, Le: resp.SW.SW2(), HasLe: true}
		raw, err = card.Transmit(ctx, get.Bytes())
		if err != nil {
			return Response{}, wrapCmd(cmd, err)
		}
		if resp, err = ParseResponse(raw); err != nil {
			return Response{}, wrapCmd(cmd, err)
		}
		data = append(data, resp.Data...)
		if sw := resp.SW; sw != SWOK && sw.SW1() != 0x61 {
			// The command itself was executed (it answered 61xx); only
			// its response was lost. Reporting sw as the command's status
			// would turn an executed debit into a refusal.
			return Response{}, fmt.Errorf("%w: %s: GET RESPONSE answered %s after the command completed", ErrMalformed, cmdName(cmd), sw)
		}
	}
	return Response{Data: data, SW: resp.SW}, nil
}

// Transceive is Exchange that also requires status word 9000: any other
// status word returns a *StatusError. It returns the response data.
func Transceive(ctx context.Context, card Card, cmd Command) ([]byte, error) {
	resp, err := Exchange(ctx, card, cmd)
	if err != nil {
		return nil, err
	}
	if resp.SW != SWOK {
		return nil, &StatusError{SW: resp.SW, Cmd: cmdName(cmd)}
	}
	return resp.Data, nil
}

func cmdName(c Command) string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("INS %02X", c.INS)
}

func wrapCmd(c Command, err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("%s: %w", cmdName(c), err)
}
