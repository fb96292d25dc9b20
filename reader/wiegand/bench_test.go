package wiegand

import "testing"

// BenchmarkDecodeAny decodes a 34-bit frame against the default formats.
func BenchmarkDecodeAny(b *testing.B) {
	bits, err := Encode(H10306, 0x1234, 0xABCD)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAny(bits, DefaultFormats); err != nil {
			b.Fatal(err)
		}
	}
}
