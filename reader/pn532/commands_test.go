package pn532

import (
	"bytes"
	"errors"
	"testing"

	"github.com/openykt/yktd/reader"
)

func TestParseTargets(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Target
		wantErr bool
	}{
		{name: "none", in: "00", want: []Target{}},
		{name: "ISO 14443-4 card", in: "01 01 00 04 20 04 08 12 34 56 06 78 80 70 02 41",
			want: []Target{{Tg: 1, SensRes: [2]byte{0x00, 0x04}, SelRes: 0x20, UID: unhex(t, "08123456"), ATS: unhex(t, "06 78 80 70 02 41")}}},
		{name: "MIFARE Classic 7-byte UID", in: "01 01 00 44 08 07 04 A1 B2 C3 D4 E5 F6",
			want: []Target{{Tg: 1, SensRes: [2]byte{0x00, 0x44}, SelRes: 0x08, UID: unhex(t, "04A1B2C3D4E5F6")}}},
		{name: "empty", in: "", wantErr: true},
		{name: "three targets", in: "03", wantErr: true},
		{name: "short target", in: "01 01 00 04 20", wantErr: true},
		{name: "UID length 5", in: "01 01 00 04 08 05 01 02 03 04 05", wantErr: true},
		{name: "UID truncated", in: "01 01 00 04 08 07 01 02 03", wantErr: true},
		{name: "ATS missing", in: "01 01 00 04 20 04 08 12 34 56", wantErr: true},
		{name: "ATS truncated", in: "01 01 00 04 20 04 08 12 34 56 06 78 80", wantErr: true},
		{name: "ATS length zero", in: "01 01 00 04 20 04 08 12 34 56 00", wantErr: true},
		{name: "trailing bytes", in: "01 01 00 04 08 04 08 12 34 56 99", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTargets(unhex(t, tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrFrame) || !errors.Is(err, reader.ErrMalformed) {
					t.Fatalf("err = %v, want ErrFrame", err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Tg != w.Tg || g.SensRes != w.SensRes || g.SelRes != w.SelRes || !bytes.Equal(g.UID, w.UID) || !bytes.Equal(g.ATS, w.ATS) {
					t.Fatalf("target %+v, want %+v", g, w)
				}
			}
		})
	}
}

func TestATRFromATS(t *testing.T) {
	tests := []struct{ name, ats, want string }{
		// The conformance ATR of reader/pcsc: ten historical bytes.
		{"pcsc conformance card", "0F 78 80 70 02 00 31 C1 64 08 60 32 06 07 00", "3B 8A 80 01 00 31 C1 64 08 60 32 06 07 00 C4"},
		{"no interface bytes", "03 00 41", "3B 81 80 01 41 41"},
		{"TB only", "04 20 70 41", "3B 81 80 01 41 41"},
		{"no historical bytes", "05 78 80 70 02", "3B 80 80 01 01"},
		{"empty", "", "3B 80 80 01 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ATRFromATS(unhex(t, tt.ats)); !bytes.Equal(got, unhex(t, tt.want)) {
				t.Fatalf("ATRFromATS = % X, want %s", got, tt.want)
			}
		})
	}
}

func TestModuleErrorMapping(t *testing.T) {
	tests := []struct {
		code byte
		want error
	}{
		{0x01, reader.ErrTimeout},
		{0x29, reader.ErrCardRemoved},
		{0x2B, reader.ErrCardRemoved},
		{0x02, reader.ErrTransport},
		{0x0B, reader.ErrTransport},
		{0x27, reader.ErrTransport},
		{0x3F, reader.ErrTransport},
	}
	for _, tt := range tests {
		err := error(&ModuleError{Cmd: "InDataExchange", Code: tt.code})
		if !errors.Is(err, tt.want) {
			t.Errorf("status 0x%02X: %v does not wrap %v", tt.code, err, tt.want)
		}
		for _, other := range []error{reader.ErrTimeout, reader.ErrCardRemoved, reader.ErrTransport} {
			if other != tt.want && errors.Is(err, other) {
				t.Errorf("status 0x%02X also wraps %v", tt.code, other)
			}
		}
	}
	if got := (&ModuleError{Cmd: "InDataExchange", Code: 0x02}).Error(); got != "pn532: InDataExchange: module status 0x02 (CRC error)" {
		t.Errorf("message %q", got)
	}
}
