package wiegand

import (
	"errors"
	"strings"
	"testing"
)

// frame parses "1011..." (spaces allowed) into bits.
func frame(s string) []bool {
	s = strings.ReplaceAll(s, " ", "")
	bits := make([]bool, len(s))
	for i, c := range s {
		bits[i] = c == '1'
	}
	return bits
}

func TestDecode(t *testing.T) {
	site26 := Format{Name: "site26", Bits: 26, EvenBits: 12, OddBits: 12, FacilityBits: 10}
	noParity := Format{Name: "raw32", Bits: 32, FacilityBits: 0}
	tests := []struct {
		name     string
		bits     string
		f        Format
		facility uint64
		card     uint64
		number   uint64
		wantErr  error
	}{
		// Facility 123 = 0111 1011, card 45678 = 1011 0010 0110 1110.
		{"h10301", "1 01111011 1011001001101110 1", H10301, 123, 45678, 123<<16 | 45678, nil},
		{"h10301 even parity wrong", "0 01111011 1011001001101110 1", H10301, 0, 0, 0, ErrParity},
		{"h10301 odd parity wrong", "1 01111011 1011001001101110 0", H10301, 0, 0, 0, ErrParity},
		{"h10301 data bit flipped", "1 01111011 1011001001101111 1", H10301, 0, 0, 0, ErrParity},
		{"h10301 cut short", "1 01111011 1011001001101110", H10301, 0, 0, 0, ErrLength},
		{"h10301 all zero", "0 00000000 0000000000000000 1", H10301, 0, 0, 0, nil},
		// Facility 0x1234, card 0xABCD.
		{"h10306", "1 0001001000110100 1010101111001101 1", H10306, 0x1234, 0xABCD, 0x1234ABCD, nil},
		{"h10306 even parity wrong", "0 0001001000110100 1010101111001101 1", H10306, 0, 0, 0, ErrParity},
		{"h10306 odd parity wrong", "1 0001001000110100 1010101111001101 0", H10306, 0, 0, 0, ErrParity},
		{"h10306 given 26 bits", "1 01111011 1011001001101110 1", H10306, 0, 0, 0, ErrLength},
		// Same bits as h10301, split 10 + 14.
		{"custom split", "1 0111101110 11001001101110 1", site26, 0x1EE, 0x326E, 123<<16 | 45678, nil},
		{"no parity", "1000 0000 0000 0000 0000 0000 0000 0001", noParity, 0, 0x80000001, 0x80000001, nil},
		{"bad format", "1", Format{Name: "x", Bits: 1}, 0, 0, 0, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(frame(tt.bits), tt.f)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Facility != tt.facility || c.Card != tt.card || c.Number() != tt.number {
				t.Errorf("got facility %#x card %#x number %#x, want %#x %#x %#x", c.Facility, c.Card, c.Number(), tt.facility, tt.card, tt.number)
			}
			if c.Bits != tt.f.Bits || c.Format != tt.f.Name {
				t.Errorf("bits %d format %q", c.Bits, c.Format)
			}
		})
	}
}

func TestDecodeAny(t *testing.T) {
	good := frame("1 01111011 1011001001101110 1")
	// A site format of the same length with a different parity layout is
	// tried after h10301 refuses the parity.
	odd26 := Format{Name: "odd26", Bits: 26, EvenBits: 24, FacilityBits: 0}
	c, err := DecodeAny(good, []Format{H10306, H10301})
	if err != nil || c.Format != "h10301" {
		t.Fatalf("DecodeAny = %+v, %v", c, err)
	}
	bad := frame("0 01111011 1011001001101110 1") // even parity wrong for h10301
	if _, err := DecodeAny(bad, DefaultFormats); !errors.Is(err, ErrParity) {
		t.Errorf("bad parity: err = %v", err)
	}
	// odd26 counts 15 ones in the parity bit and its 24 data bits: wrong too.
	if _, err := DecodeAny(bad, []Format{H10301, odd26}); !errors.Is(err, ErrParity) {
		t.Errorf("bad parity with a second format: err = %v", err)
	}
	if _, err := DecodeAny(frame("101"), DefaultFormats); !errors.Is(err, ErrLength) {
		t.Errorf("3 bits: err = %v", err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	formats := []Format{H10301, H10306,
		{Name: "site37", Bits: 37, EvenBits: 18, OddBits: 18, FacilityBits: 16},
		{Name: "lead-only", Bits: 9, EvenBits: 8, FacilityBits: 0},
		{Name: "wide", Bits: 66, EvenBits: 32, OddBits: 32, FacilityBits: 0},
	}
	for _, f := range formats {
		for _, v := range []struct{ fac, card uint64 }{{0, 0}, {1, 1}, {255, 65535}, {0xA5, 0x5A5A}, {^uint64(0), ^uint64(0)}} {
			bits, err := Encode(f, v.fac, v.card)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Decode(bits, f)
			if err != nil {
				t.Fatalf("%s %v: %v", f.Name, v, err)
			}
			wantFac := v.fac & (1<<uint(f.FacilityBits) - 1)
			wantCard := v.card
			if f.CardBits() < 64 {
				wantCard &= 1<<uint(f.CardBits()) - 1
			}
			if c.Facility != wantFac || c.Card != wantCard {
				t.Errorf("%s %v: got %#x %#x", f.Name, v, c.Facility, c.Card)
			}
			// Any single flipped bit is caught by parity where parity covers it.
			if f.EvenBits > 0 {
				bits[1] = !bits[1]
				if _, err := Decode(bits, f); !errors.Is(err, ErrParity) {
					t.Errorf("%s: flipped bit 1 not caught: %v", f.Name, err)
				}
			}
		}
	}
}

func TestFormatValidate(t *testing.T) {
	for _, f := range []Format{
		{Name: "short", Bits: 1},
		{Name: "long", Bits: 67},
		{Name: "parity wider than data", Bits: 10, EvenBits: 10},
		{Name: "no card bits", Bits: 26, EvenBits: 12, OddBits: 12, FacilityBits: 24},
		{Name: "negative", Bits: 26, FacilityBits: -1},
		{Name: "65 data bits", Bits: 66, EvenBits: 1},
	} {
		if err := f.Validate(); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v", f.Name, err)
		}
	}
	for _, name := range []string{"h10301", "26", "H10306", "34"} {
		if _, ok := Builtin(name); !ok {
			t.Errorf("Builtin(%q) not found", name)
		}
	}
	if _, ok := Builtin("h10302"); ok {
		t.Error("Builtin(h10302) found")
	}
}
