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

// FuzzParseTargets checks that InListPassiveTarget's response parser never
// panics, returns typed errors, and keeps its lengths within the input.
func FuzzParseTargets(f *testing.F) {
	f.Add([]byte{0x00})
	f.Add([]byte{0x01, 0x01, 0x00, 0x04, 0x20, 0x04, 0x08, 0x12, 0x34, 0x56, 0x06, 0x78, 0x80, 0x70, 0x02, 0x41})
	f.Add([]byte{0x01, 0x01, 0x00, 0x44, 0x08, 0x07, 0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseTargets(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		total := 1
		for _, tg := range ts {
			total += 5 + len(tg.UID) + len(tg.ATS)
			if tg.ISO14443_4() != (tg.ATS != nil) {
				t.Fatalf("target %+v: ATS without ISO 14443-4 or the reverse", tg)
			}
			if atr := ATRFromATS(tg.ATS); len(atr) > 20 {
				t.Fatalf("ATR of %d bytes", len(atr))
			}
		}
		if total != len(b) {
			t.Fatalf("parsed %d of %d bytes", total, len(b))
		}
	})
}
