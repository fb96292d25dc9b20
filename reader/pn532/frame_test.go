package pn532

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/reader"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Byte-exact frames from the PN532 user manual (section 6.2.1 and the
// GetFirmwareVersion / SAMConfiguration examples of the application note).
func TestEncodeInfo(t *testing.T) {
	tests := []struct {
		name string
		tfi  byte
		data string
		want string
	}{
		{"GetFirmwareVersion", TFIHost, "02", "00 00 FF 02 FE D4 02 2A 00"},
		{"firmware answer", TFIModule, "03 32 01 06 07", "00 00 FF 06 FA D5 03 32 01 06 07 E8 00"},
		{"SAMConfiguration normal", TFIHost, "14 01 14 01", "00 00 FF 05 FB D4 14 01 14 01 02 00"},
		{"InListPassiveTarget 106A", TFIHost, "4A 01 00", "00 00 FF 04 FC D4 4A 01 00 E1 00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeInfo(tt.tfi, unhex(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("EncodeInfo = % X, want % X", got, want)
			}
			f, n, err := DecodeFrame(got)
			if err != nil || n != len(got)-1 || f.Kind != KindInfo || f.TFI != tt.tfi || !bytes.Equal(f.Data, unhex(t, tt.data)) {
				t.Fatalf("DecodeFrame = %+v, %d, %v", f, n, err)
			}
		})
	}
}

func TestEncodeExtended(t *testing.T) {
	data := bytes.Repeat([]byte{0xA5}, 300)
	if _, err := EncodeInfo(TFIHost, data); !errors.Is(err, ErrFrame) {
		t.Fatalf("300 bytes: %v, want ErrFrame", err)
	}
	if _, err := EncodeInfo(TFIHost, nil); !errors.Is(err, ErrFrame) {
		t.Fatalf("no data: %v, want ErrFrame", err)
	}
	for _, n := range []int{MaxNormalData, MaxNormalData + 1, MaxFrameData} {
		fr, err := EncodeInfo(TFIModule, data[:n])
		if err != nil {
			t.Fatal(err)
		}
		extended := fr[3] == 0xFF && fr[4] == 0xFF
		if extended != (n > MaxNormalData) {
			t.Fatalf("%d bytes: extended=%v", n, extended)
		}
		f, _, err := DecodeFrame(fr)
		if err != nil || !bytes.Equal(f.Data, data[:n]) {
			t.Fatalf("%d bytes: decode %v", n, err)
		}
	}
}

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    Kind
		data    string
		n       int
		wantErr error
	}{
		{name: "ack", in: "00 00 FF 00 FF 00", kind: KindACK, n: 5},
		{name: "nack", in: "00 00 FF FF 00 00", kind: KindNACK, n: 5},
		{name: "error frame", in: "00 00 FF 01 FF 7F 81 00", kind: KindError, n: 7},
		{name: "no preamble", in: "00 FF 02 FE D5 15 16", kind: KindInfo, data: "15", n: 7},
		{name: "garbage first", in: "55 55 13 00 00 00 FF 02 FE D5 15 16 00", kind: KindInfo, data: "15", n: 12},
		{name: "extended", in: "00 00 FF FF FF 00 03 FD D5 41 00 EA 00", kind: KindInfo, data: "41 00", n: 12},
		{name: "bad LCS", in: "00 00 FF 02 FD D5 15 16 00", n: 3, wantErr: ErrChecksum},
		{name: "bad DCS", in: "00 00 FF 02 FE D5 15 17 00", n: 3, wantErr: ErrChecksum},
		{name: "bad extended LCS", in: "00 00 FF FF FF 00 03 FC D5 41 00 EA 00", n: 3, wantErr: ErrChecksum},
		{name: "zero length", in: "00 00 FF 00 00 00", n: 3, wantErr: ErrFrame},
		{name: "extended too long", in: "00 00 FF FF FF 01 0A F5", n: 3, wantErr: ErrFrame},
		{name: "unknown TFI", in: "00 00 FF 02 FE D6 15 15 00", n: 3, wantErr: ErrFrame},
		{name: "TFI only", in: "00 00 FF 01 FF D5 2B 00", n: 3, wantErr: ErrFrame},
		{name: "incomplete header", in: "00 00 FF 02", n: 1, wantErr: ErrIncomplete},
		{name: "incomplete body", in: "13 00 FF 02 FE D5", n: 1, wantErr: ErrIncomplete},
		{name: "garbage only", in: "55 55 12", n: 3, wantErr: ErrIncomplete},
		{name: "garbage then zero", in: "55 55 00", n: 2, wantErr: ErrIncomplete},
		{name: "empty", in: "", n: 0, wantErr: ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, n, err := DecodeFrame(unhex(t, tt.in))
			if n != tt.n {
				t.Errorf("n = %d, want %d", n, tt.n)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || f.Kind != tt.kind || !bytes.Equal(f.Data, unhex(t, tt.data)) {
				t.Fatalf("got %+v, %v; want %v % s", f, err, tt.kind, tt.data)
			}
		})
	}
}

func TestFrameErrorsAreMalformed(t *testing.T) {
	for _, err := range []error{ErrFrame, ErrChecksum} {
		if !errors.Is(err, reader.ErrMalformed) {
			t.Errorf("%v does not wrap reader.ErrMalformed", err)
		}
	}
	if !errors.Is(ErrChecksum, ErrFrame) {
		t.Error("ErrChecksum does not wrap ErrFrame")
	}
	if errors.Is(ErrIncomplete, reader.ErrMalformed) {
		t.Error("ErrIncomplete must not be malformed")
	}
}

// TestDecoderResync feeds a stream byte by byte: noise, a frame with a bad
// checksum, a good frame split anywhere, an ACK.
func TestDecoderResync(t *testing.T) {
	good, _ := EncodeInfo(TFIModule, []byte{0x41, 0x00, 0x90, 0x00})
	bad := bytes.Clone(good)
	bad[len(bad)-2] ^= 1
	stream := append(append(append(unhex(t, "FF 00 13 55 55 00"), bad...), good...), ACKFrame...)
	var d Decoder
	var kinds []string
	for _, c := range stream {
		d.Write([]byte{c})
		for {
			f, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				kinds = append(kinds, "bad")
				continue
			}
			kinds = append(kinds, f.Kind.String())
			if f.Kind == KindInfo && !bytes.Equal(f.Data, []byte{0x41, 0x00, 0x90, 0x00}) {
				t.Fatalf("data % X", f.Data)
			}
		}
	}
	if got := strings.Join(kinds, ","); got != "bad,info,ack" {
		t.Fatalf("frames %s, want bad,info,ack", got)
	}
}

func TestDecoderBounded(t *testing.T) {
	var d Decoder
	junk := bytes.Repeat([]byte{0x00, 0xFF, 0x05}, 2000)
	d.Write(junk)
	if len(d.buf) > maxBuffered {
		t.Fatalf("buffer %d bytes", len(d.buf))
	}
	for {
		if _, err := d.Next(); errors.Is(err, ErrIncomplete) {
			break
		}
	}
	if len(d.buf) > 3 { // at most an unfinished header: 00 FF LEN
		t.Fatalf("%d bytes left after draining garbage", len(d.buf))
	}
}
