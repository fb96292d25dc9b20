package wiegand

import (
	"errors"
	"slices"
	"testing"
)

// FuzzDecode feeds arbitrary frames (one bit per byte: its low bit) and
// format layouts to Decode. Decode must not panic, must refuse an
// inconsistent format with ErrFormat, and a frame it accepts must be the
// one Encode builds from the decoded facility and card.
func FuzzDecode(f *testing.F) {
	toBytes := func(bits []bool) []byte {
		b := make([]byte, len(bits))
		for i, v := range bits {
			if v {
				b[i] = 1
			}
		}
		return b
	}
	good, _ := Encode(H10301, 123, 45678)
	f.Add(toBytes(good), 26, 12, 12, 8)
	good, _ = Encode(H10306, 0x1234, 0xABCD)
	f.Add(toBytes(good), 34, 16, 16, 16)
	f.Add([]byte{1, 0, 1}, 26, 12, 12, 8)
	f.Add(make([]byte, 66), 66, 32, 32, 0)
	f.Add([]byte{}, 0, 0, 0, 0)
	f.Fuzz(func(t *testing.T, data []byte, n, even, odd, fac int) {
		if len(data) > 200 {
			return
		}
		bits := make([]bool, len(data))
		for i, b := range data {
			bits[i] = b&1 == 1
		}
		format := Format{Name: "fuzz", Bits: n, EvenBits: even, OddBits: odd, FacilityBits: fac}
		c, err := Decode(bits, format)
		if format.Validate() != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("bad format %+v accepted: %v", format, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrParity) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := Encode(format, c.Facility, c.Card)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(again, bits) {
			t.Fatalf("Encode(Decode(frame)) differs for %+v", format)
		}
		if _, err := DecodeAny(bits, []Format{format}); err != nil {
			t.Fatalf("DecodeAny refused what Decode accepted: %v", err)
		}
	})
}
