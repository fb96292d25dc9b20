package pn532

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeFrame checks that the decoder never panics, never consumes
// more than it was given, always makes progress on a bad frame, and that
// every information frame it accepts re-encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte{0x00, 0x00, 0xFF, 0x02, 0xFE, 0xD4, 0x02, 0x2A, 0x00})
	f.Add(ACKFrame)
	f.Add(NACKFrame)
	f.Add(ErrorFrame)
	f.Add([]byte{0x55, 0x55, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x03, 0xFD, 0xD5, 0x41, 0x00, 0xEA, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b)
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		switch {
		case err == nil && fr.Kind == KindInfo:
			if len(fr.Data) == 0 || len(fr.Data) > MaxFrameData {
				t.Fatalf("accepted %d data bytes", len(fr.Data))
			}
			enc, err := EncodeInfo(fr.TFI, fr.Data)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			g, m, err := DecodeFrame(enc)
			if err != nil || m != len(enc)-1 || g.TFI != fr.TFI || !bytes.Equal(g.Data, fr.Data) {
				t.Fatalf("re-encoded % X decodes to %+v, %d, %v", enc, g, m, err)
			}
		case err == nil:
		case errors.Is(err, ErrIncomplete):
		case errors.Is(err, ErrFrame):
			if n == 0 {
				t.Fatal("bad frame without progress")
			}
		default:
			t.Fatalf("untyped error %v", err)
		}
		var d Decoder
		d.Write(b)
		for i := 0; ; i++ {
			if i > len(b)+1 {
				t.Fatal("decoder does not make progress")
			}
			if _, err := d.Next(); errors.Is(err, ErrIncomplete) {
				break
			}
		}
	})
}
