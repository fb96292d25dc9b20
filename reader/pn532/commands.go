package pn532

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Command codes (PN532 user manual section 7). A response code is the
// command code plus one.
const (
	CmdDiagnose            byte = 0x00
	CmdGetFirmwareVersion  byte = 0x02
	CmdSAMConfiguration    byte = 0x14
	CmdRFConfiguration     byte = 0x32
	CmdInDataExchange      byte = 0x40
	CmdInListPassiveTarget byte = 0x4A
	CmdInRelease           byte = 0x52
)

// Parameters the driver sends.
const (
	// DiagPresence is Diagnose's NumTst for the ISO 14443-4 card presence
	// check (status 00 present, 01 timeout: gone).
	DiagPresence byte = 0x06
	// samNormal is SAMConfiguration's mode 1: no SAM, the module's RF
	// front end used directly.
	samNormal byte = 0x01
	// cfgMaxRetries is RFConfiguration's CfgItem 5: MxRtyATR, MxRtyPSL,
	// MxRtyPassiveActivation.
	cfgMaxRetries byte = 0x05
	// brTy106A is InListPassiveTarget's baud rate and modulation for ISO
	// 14443 type A at 106 kbps.
	brTy106A byte = 0x00
	// passiveRetries bounds InListPassiveTarget's activation attempts, so
	// that it answers "no target" within tens of milliseconds instead of
	// waiting for a card forever (the default 0xFF).
	passiveRetries byte = 0x02
)

// MaxAPDU is the longest command APDU InDataExchange carries in one frame
// (262 bytes, extended frame). The driver does not chain longer ones.
const MaxAPDU = 262

// ErrTooLong: an APDU longer than MaxAPDU; nothing was sent.
var ErrTooLong = errors.New("pn532: APDU longer than InDataExchange carries")

// ModuleError is an error status the PN532 returned for a command (the low
// six bits of the status byte, user manual section 7.1). It wraps
// reader.ErrTimeout for 01 (the card did not answer), reader.ErrCardRemoved
// for 29 (target released) and 2B (card disappeared), and
// reader.ErrTransport for the rest (CRC, parity, framing, RF errors).
type ModuleError struct {
	Cmd  string // command name, e.g. "InDataExchange"
	Code byte
}

var moduleErrNames = map[byte]string{
	0x01: "timeout", 0x02: "CRC error", 0x03: "parity error", 0x04: "wrong bit count",
	0x05: "framing error", 0x06: "bit collision", 0x07: "buffer too small",
	0x09: "RF buffer overflow", 0x0A: "RF field not switched on", 0x0B: "RF protocol error",
	0x0D: "overheating", 0x0E: "internal buffer overflow", 0x10: "invalid parameter",
	0x12: "DEP command not supported", 0x13: "DEP format error", 0x14: "authentication error",
	0x23: "UID check byte wrong", 0x25: "invalid device state", 0x26: "operation not allowed",
	0x27: "command not acceptable in context", 0x29: "target released",
	0x2A: "card ID mismatch", 0x2B: "card disappeared", 0x2C: "NFCID3 mismatch",
	0x2D: "over-current", 0x2E: "NAD missing",
}

func (e *ModuleError) Error() string {
	name := moduleErrNames[e.Code]
	if name == "" {
		name = "unknown error"
	}
	return fmt.Sprintf("pn532: %s: module status 0x%02X (%s)", e.Cmd, e.Code, name)
}

// Unwrap maps the status to the reader sentinels.
func (e *ModuleError) Unwrap() error {
	switch e.Code {
	case 0x01:
		return reader.ErrTimeout
	case 0x29, 0x2B:
		return reader.ErrCardRemoved
	}
	return reader.ErrTransport
}

// Firmware is GetFirmwareVersion's answer.
type Firmware struct {
	IC      byte // 0x32 for a PN532
	Ver     byte
	Rev     byte
	Support byte // bit 0 ISO 14443 A, bit 1 B, bit 2 ISO 18092
}

func (f Firmware) String() string {
	return fmt.Sprintf("PN5%02X v%d.%d support %02X", f.IC, f.Ver, f.Rev, f.Support)
}

func (l *link) firmware(ctx context.Context) (Firmware, error) {
	r, err := l.command(ctx, "GetFirmwareVersion", []byte{CmdGetFirmwareVersion}, l.t.Response)
	if err != nil {
		return Firmware{}, err
	}
	if len(r) != 4 {
		return Firmware{}, fmt.Errorf("pn532: GetFirmwareVersion: %d bytes: %w", len(r), ErrFrame)
	}
	return Firmware{IC: r[0], Ver: r[1], Rev: r[2], Support: r[3]}, nil
}

// samConfiguration puts the module in normal mode (timeout 1 s, IRQ used).
func (l *link) samConfiguration(ctx context.Context) error {
	_, err := l.command(ctx, "SAMConfiguration", []byte{CmdSAMConfiguration, samNormal, 0x14, 0x01}, l.t.Response)
	return err
}

// setRetries sets RFConfiguration's MaxRetries item.
func (l *link) setRetries(ctx context.Context, atr, psl, passive byte) error {
	_, err := l.command(ctx, "RFConfiguration", []byte{CmdRFConfiguration, cfgMaxRetries, atr, psl, passive}, l.t.Response)
	return err
}

// Target is an ISO 14443 type A card InListPassiveTarget activated.
type Target struct {
	Tg      byte    // logical number the module gave it (1)
	SensRes [2]byte // ATQA
	SelRes  byte    // SAK: bit 0x20 means ISO 14443-4 compliant
	UID     []byte  // NFCID1: 4, 7 or 10 bytes
	ATS     []byte  // answer to select (TL first), nil for a non-ISO 14443-4 card
}

// ISO14443_4 reports whether the card speaks ISO 14443-4 (APDUs).
func (t Target) ISO14443_4() bool { return t.SelRes&0x20 != 0 }

// ParseTargets parses InListPassiveTarget's response data for 106 kbps
// type A (after the response code): NbTg, then per target Tg, SENS_RES(2),
// SEL_RES, NFCIDLength, NFCID1 and, for an ISO 14443-4 card, the ATS
// whose first byte TL is its length.
func ParseTargets(b []byte) ([]Target, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("pn532: InListPassiveTarget: empty response: %w", ErrFrame)
	}
	n := int(b[0])
	if n > 2 {
		return nil, fmt.Errorf("pn532: InListPassiveTarget: %d targets: %w", n, ErrFrame)
	}
	b = b[1:]
	out := make([]Target, 0, n)
	for range n {
		if len(b) < 5 {
			return nil, fmt.Errorf("pn532: InListPassiveTarget: short target: %w", ErrFrame)
		}
		t := Target{Tg: b[0], SensRes: [2]byte{b[1], b[2]}, SelRes: b[3]}
		ul := int(b[4])
		if ul != 4 && ul != 7 && ul != 10 || len(b) < 5+ul {
			return nil, fmt.Errorf("pn532: InListPassiveTarget: UID length %d: %w", ul, ErrFrame)
		}
		t.UID = bytes.Clone(b[5 : 5+ul])
		b = b[5+ul:]
		if t.ISO14443_4() {
			if len(b) < 1 || b[0] < 1 || len(b) < int(b[0]) {
				return nil, fmt.Errorf("pn532: InListPassiveTarget: ATS truncated: %w", ErrFrame)
			}
			t.ATS = bytes.Clone(b[:b[0]])
			b = b[b[0]:]
		}
		out = append(out, t)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("pn532: InListPassiveTarget: %d trailing bytes: %w", len(b), ErrFrame)
	}
	return out, nil
}

// listTarget looks for one type A card; nil when there is none.
func (l *link) listTarget(ctx context.Context) (*Target, error) {
	r, err := l.command(ctx, "InListPassiveTarget", []byte{CmdInListPassiveTarget, 0x01, brTy106A}, l.t.Response)
	if err != nil {
		return nil, err
	}
	ts, err := ParseTargets(r)
	if err != nil || len(ts) == 0 {
		return nil, err
	}
	return &ts[0], nil
}

// exchange sends apdu to target tg and returns the card's answer.
func (l *link) exchange(ctx context.Context, tg byte, apdu []byte) ([]byte, error) {
	if len(apdu) > MaxAPDU {
		return nil, fmt.Errorf("pn532: InDataExchange: %d bytes, at most %d: %w", len(apdu), MaxAPDU, ErrTooLong)
	}
	r, err := l.command(ctx, "InDataExchange", append([]byte{CmdInDataExchange, tg}, apdu...), l.t.Exchange)
	if err != nil {
		return nil, err
	}
	if len(r) < 1 {
		return nil, fmt.Errorf("pn532: InDataExchange: no status: %w", ErrFrame)
	}
	if code := r[0] & 0x3F; code != 0 {
		return nil, &ModuleError{Cmd: "InDataExchange", Code: code}
	}
	if r[0]&0x40 != 0 {
		// MI: the card's answer continues in another frame. Cards of the
		// e-purse profile answer at most 258 bytes, which fit one.
		return nil, fmt.Errorf("pn532: InDataExchange: chained response not supported: %w", reader.ErrMalformed)
	}
	return r[1:], nil
}

// present asks the module whether the activated card still answers.
func (l *link) present(ctx context.Context) (bool, error) {
	r, err := l.command(ctx, "Diagnose", []byte{CmdDiagnose, DiagPresence}, l.t.Response)
	if err != nil {
		return false, err
	}
	if len(r) != 1 {
		return false, fmt.Errorf("pn532: Diagnose: %d bytes: %w", len(r), ErrFrame)
	}
	return r[0] == 0x00, nil
}

// release releases target tg (0: all).
func (l *link) release(ctx context.Context, tg byte) error {
	r, err := l.command(ctx, "InRelease", []byte{CmdInRelease, tg}, l.t.Response)
	if err != nil {
		return err
	}
	if len(r) >= 1 && r[0]&0x3F != 0 {
		return &ModuleError{Cmd: "InRelease", Code: r[0] & 0x3F}
	}
	return nil
}

// ATRFromATS builds the ATR a PC/SC reader reports for an ISO 14443-4
// type A card (PC/SC part 3 section 3.1.3.2.3.1): 3B 8n 80 01, the ATS's
// historical bytes (at most 15), TCK. The same card gives the same ATR
// through pcscd and through this driver.
func ATRFromATS(ats []byte) []byte {
	var hist []byte
	if len(ats) >= 2 {
		i := 2                                         // after TL, T0
		for _, bit := range []byte{0x10, 0x20, 0x40} { // TA, TB, TC
			if ats[1]&bit != 0 {
				i++
			}
		}
		if i < len(ats) {
			hist = ats[i:]
		}
	}
	hist = hist[:min(len(hist), 15)]
	atr := []byte{0x3B, 0x80 | byte(len(hist)), 0x80, 0x01}
	atr = append(atr, hist...)
	var tck byte
	for _, c := range atr[1:] {
		tck ^= c
	}
	return append(atr, tck)
}
