package wiegand

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of Decode. A frame that fails is dropped by the Reader, never
// delivered; callers decide with errors.Is.
var (
	// ErrLength: the frame has a bit count no configured format has (a
	// frame cut short, noise on a line, an unconfigured card format).
	ErrLength = errors.New("wiegand: frame length")
	// ErrParity: a parity bit does not match the bits it covers.
	ErrParity = errors.New("wiegand: parity")
	// ErrFormat: a Format is inconsistent (see Format.Validate).
	ErrFormat = errors.New("wiegand: bad format")
)

// MaxBits is the longest frame a Format may describe: 64 data bits and
// two parity bits.
const MaxBits = 66

// Format is one Wiegand frame layout: an optional leading even parity bit,
// the data bits (facility code first, then card number) and an optional
// trailing odd parity bit.
type Format struct {
	// Name identifies the format in logs and configuration, e.g. "h10301".
	Name string
	// Bits is the frame length, parity bits included.
	Bits int
	// EvenBits is how many data bits, from the first, the leading even
	// parity bit covers (the parity bit itself included in the count of
	// ones). Zero: the frame has no leading parity bit.
	EvenBits int
	// OddBits is how many data bits, up to the last, the trailing odd
	// parity bit covers. Zero: the frame has no trailing parity bit.
	OddBits int
	// FacilityBits is how many leading data bits hold the facility (site)
	// code; the remaining data bits are the card number.
	FacilityBits int
}

// Built-in formats.
var (
	// H10301 is the HID 26-bit standard format: even parity over the first
	// 12 data bits, odd parity over the last 12, 8-bit facility code and
	// 16-bit card number.
	H10301 = Format{Name: "h10301", Bits: 26, EvenBits: 12, OddBits: 12, FacilityBits: 8}
	// H10306 is the 34-bit format: even parity over the first 16 data
	// bits, odd over the last 16, 16-bit facility code and 16-bit card
	// number.
	H10306 = Format{Name: "h10306", Bits: 34, EvenBits: 16, OddBits: 16, FacilityBits: 16}
)

// DefaultFormats are the formats a Reader decodes when given none.
var DefaultFormats = []Format{H10301, H10306}

// Builtin returns the built-in format with that name: "h10301" (or "26")
// and "h10306" (or "34"), case-insensitive.
func Builtin(name string) (Format, bool) {
	switch strings.ToLower(name) {
	case "h10301", "26":
		return H10301, true
	case "h10306", "34":
		return H10306, true
	}
	return Format{}, false
}

// leading and trailing return the number of parity bits at each end.
func (f Format) leading() int {
	if f.EvenBits > 0 {
		return 1
	}
	return 0
}

func (f Format) trailing() int {
	if f.OddBits > 0 {
		return 1
	}
	return 0
}

// DataBits is the number of bits between the parity bits.
func (f Format) DataBits() int { return f.Bits - f.leading() - f.trailing() }

// CardBits is the number of bits of the card number.
func (f Format) CardBits() int { return f.DataBits() - f.FacilityBits }

// Validate checks that the layout fits: 1 to 64 data bits, parity coverage
// within the data bits, at least one card-number bit. Its errors wrap
// ErrFormat.
func (f Format) Validate() error {
	switch {
	case f.Bits < 2 || f.Bits > MaxBits:
		return fmt.Errorf("%w %q: bits %d: want 2 to %d", ErrFormat, f.Name, f.Bits, MaxBits)
	case f.EvenBits < 0 || f.OddBits < 0 || f.FacilityBits < 0:
		return fmt.Errorf("%w %q: negative bit count", ErrFormat, f.Name)
	case f.DataBits() < 1 || f.DataBits() > 64:
		return fmt.Errorf("%w %q: %d data bits: want 1 to 64", ErrFormat, f.Name, f.DataBits())
	case f.EvenBits > f.DataBits() || f.OddBits > f.DataBits():
		return fmt.Errorf("%w %q: parity covers more than the %d data bits", ErrFormat, f.Name, f.DataBits())
	case f.CardBits() < 1:
		return fmt.Errorf("%w %q: facility_bits %d leaves no card number bits", ErrFormat, f.Name, f.FacilityBits)
	}
	return nil
}

// Credential is a decoded Wiegand frame.
type Credential struct {
	Format   string // name of the format that decoded it
	Bits     int    // frame length, parity included
	Facility uint64 // facility (site) code; 0 when the format has none
	Card     uint64 // card number
	CardBits int    // width of Card in bits
}

// Number is the data bits without parity as one integer, facility code
// above the card number: what the Reader reports as Event.Number. Two
// cards with the same card number at different facilities differ.
func (c Credential) Number() uint64 { return c.Facility<<uint(c.CardBits) | c.Card }

// Decode checks the parity of a frame (bits in arrival order, true for a
// pulse on D1) against f and splits its data bits. It returns an error
// wrapping ErrLength when the frame is not f.Bits long, ErrParity when a
// parity bit is wrong and ErrFormat when f is inconsistent.
func Decode(bits []bool, f Format) (Credential, error) {
	if err := f.Validate(); err != nil {
		return Credential{}, err
	}
	if len(bits) != f.Bits {
		return Credential{}, fmt.Errorf("%w: %d bits, format %s has %d", ErrLength, len(bits), f.Name, f.Bits)
	}
	if f.EvenBits > 0 && ones(bits[:1+f.EvenBits])%2 != 0 {
		return Credential{}, fmt.Errorf("%w: leading even parity of %d-bit %s frame", ErrParity, f.Bits, f.Name)
	}
	if f.OddBits > 0 && ones(bits[len(bits)-1-f.OddBits:])%2 != 1 {
		return Credential{}, fmt.Errorf("%w: trailing odd parity of %d-bit %s frame", ErrParity, f.Bits, f.Name)
	}
	data := bits[f.leading() : len(bits)-f.trailing()]
	return Credential{
		Format:   f.Name,
		Bits:     f.Bits,
		Facility: value(data[:f.FacilityBits]),
		Card:     value(data[f.FacilityBits:]),
		CardBits: f.CardBits(),
	}, nil
}

// DecodeAny decodes a frame with the first format of its length whose
// parity matches. Its error wraps ErrLength when no format has that length,
// ErrParity when every format of that length refused the parity.
func DecodeAny(bits []bool, formats []Format) (Credential, error) {
	var firstErr error
	for _, f := range formats {
		if f.Bits != len(bits) {
			continue
		}
		c, err := Decode(bits, f)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%w: no format has %d bits", ErrLength, len(bits))
	}
	return Credential{}, firstErr
}

// Encode builds the frame of a credential in format f with correct parity:
// the inverse of Decode, for tests, simulators and the rig. Facility and
// card are truncated to their widths.
func Encode(f Format, facility, card uint64) ([]bool, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	bits := make([]bool, 0, f.Bits)
	if f.leading() == 1 {
		bits = append(bits, false)
	}
	for i := f.FacilityBits - 1; i >= 0; i-- {
		bits = append(bits, facility>>uint(i)&1 == 1)
	}
	for i := f.CardBits() - 1; i >= 0; i-- {
		bits = append(bits, card>>uint(i)&1 == 1)
	}
	if f.trailing() == 1 {
		bits = append(bits, false)
	}
	if f.EvenBits > 0 && ones(bits[1:1+f.EvenBits])%2 == 1 {
		bits[0] = true
	}
	if f.OddBits > 0 && ones(bits[len(bits)-1-f.OddBits:len(bits)-1])%2 == 0 {
		bits[len(bits)-1] = true
	}
	return bits, nil
}

func ones(bits []bool) int {
	n := 0
	for _, b := range bits {
		if b {
			n++
		}
	}
	return n
}

func value(bits []bool) uint64 {
	var v uint64
	for _, b := range bits {
		v <<= 1
		if b {
			v |= 1
		}
	}
	return v
}
