package pcsc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// ErrATR reports an answer to reset that does not follow ISO 7816-3.
var ErrATR = errors.New("pcsc: malformed ATR")

// ATR is a parsed answer to reset (ISO 7816-3 section 8.2).
type ATR struct {
	Raw        []byte
	Protocols  []int  // T= values announced by TD bytes in order; [0] when none
	Historical []byte // historical bytes (T0's low nibble of them)
	HasTCK     bool   // a check byte ends the ATR (any protocol but T=0 announced)
}

// maxATR is the longest ATR ISO 7816-3 allows.
const maxATR = 33

// ParseATR parses b, checking every length: TS, T0, the interface bytes
// announced by T0 and each TDi, the historical bytes and the check byte
// (which must XOR T0..TCK to zero). Extra or missing bytes are errors.
func ParseATR(b []byte) (ATR, error) {
	if len(b) < 2 || len(b) > maxATR {
		return ATR{}, fmt.Errorf("%w: %d bytes (want 2 to %d)", ErrATR, len(b), maxATR)
	}
	if b[0] != 0x3B && b[0] != 0x3F {
		return ATR{}, fmt.Errorf("%w: TS 0x%02X (want 3B or 3F)", ErrATR, b[0])
	}
	a := ATR{Raw: bytes.Clone(b)}
	k := int(b[1] & 0x0F)
	y := b[1] >> 4
	i := 2
	for {
		for _, bit := range []byte{0x1, 0x2, 0x4} { // TA, TB, TC
			if y&bit != 0 {
				i++
			}
		}
		if y&0x8 == 0 {
			break
		}
		if i >= len(b) {
			return ATR{}, fmt.Errorf("%w: TD byte missing at offset %d", ErrATR, i)
		}
		td := b[i]
		i++
		t := int(td & 0x0F)
		a.Protocols = append(a.Protocols, t)
		if t != 0 {
			a.HasTCK = true
		}
		y = td >> 4
	}
	if len(a.Protocols) == 0 {
		a.Protocols = []int{0}
	}
	want := i + k
	if a.HasTCK {
		want++
	}
	if len(b) != want {
		return ATR{}, fmt.Errorf("%w: %d bytes, the interface and historical bytes announce %d", ErrATR, len(b), want)
	}
	a.Historical = bytes.Clone(b[i : i+k])
	if a.HasTCK {
		var x byte
		for _, c := range b[1:] {
			x ^= c
		}
		if x != 0 {
			return ATR{}, fmt.Errorf("%w: check byte TCK wrong", ErrATR)
		}
	}
	return a, nil
}

// Contactless reports whether the ATR was built by a PC/SC reader for a
// contactless card (PC/SC part 3 section 3.1.3.2.3: 3B 8n 80 01 ...).
func (a ATR) Contactless() bool {
	r := a.Raw
	return len(r) >= 4 && r[0] == 0x3B && r[1]&0xF0 == 0x80 && r[2] == 0x80 && r[3] == 0x01
}

// pcscRID is the registered application provider id of the PC/SC workgroup
// that PC/SC part 3 uses in the ATRs of contactless storage cards.
var pcscRID = []byte{0xA0, 0x00, 0x00, 0x03, 0x06}

// Technology guesses the card technology from the ATR: a contactless
// storage card's ATR carries its standard and card name (PC/SC part 3
// table 3-6: SS 03 = ISO 14443 A part 3, card names 0001 MIFARE Classic
// 1K, 0002 4K, 0026 Mini); an ISO 14443-4 card's ATR carries its ATS
// historical bytes (type A) or the 8 bytes of ATQB application data,
// protocol info and MBLI (type B). Anything else is a contact card.
func (a ATR) Technology() reader.Technology {
	if !a.Contactless() {
		return reader.TechContact
	}
	h := a.Historical
	if len(h) >= 11 && h[0] == 0x80 && h[1] == 0x4F && int(h[2]) >= 7 && len(h) >= 3+int(h[2]) && bytes.Equal(h[3:8], pcscRID) {
		ss, nn := h[8], uint16(h[9])<<8|uint16(h[10])
		switch {
		case ss == 0x03 && (nn == 0x0001 || nn == 0x0002 || nn == 0x0026):
			return reader.TechMifare
		case ss >= 0x01 && ss <= 0x04:
			return reader.TechISO14443A
		case ss >= 0x05 && ss <= 0x08:
			return reader.TechISO14443B
		}
		return reader.TechUnknown
	}
	if len(h) == 8 && a.Raw[1] == 0x88 {
		return reader.TechISO14443B
	}
	return reader.TechISO14443A
}

// technologyOf parses atr and guesses its technology; a malformed ATR is
// reported as unknown rather than failing a tap.
func technologyOf(atr []byte) reader.Technology {
	a, err := ParseATR(atr)
	if err != nil {
		return reader.TechUnknown
	}
	return a.Technology()
}
