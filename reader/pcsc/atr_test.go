package pcsc

import (
	"errors"
	"testing"

	"github.com/openykt/yktd/reader"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i+1 < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var v byte
		for _, c := range s[i : i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'A' && c <= 'F':
				v |= byte(c-'A') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b = append(b, v)
		i += 2
	}
	return b
}

func TestParseATR(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		tech    reader.Technology
		protos  []int
		hist    int
		wantErr bool
	}{
		// PC/SC part 3 storage card ATRs (MIFARE Classic 1K and 4K, Ultralight).
		{"mifare 1k", "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A", reader.TechMifare, []int{0, 1}, 15, false},
		{"mifare 4k", "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 02 00 00 00 00 69", reader.TechMifare, []int{0, 1}, 15, false},
		{"ultralight", "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00 68", reader.TechISO14443A, []int{0, 1}, 15, false},
		// ISO 14443-4 type B: 8 historical bytes (ATQB data, protocol info, MBLI).
		{"type b", "3B 88 80 01 00 00 00 00 33 81 81 00 3A", reader.TechISO14443B, []int{0, 1}, 8, false},
		// ISO 14443-4 type A (ATS historical bytes).
		{"type a", "3B 8A 80 01 00 31 C1 64 08 60 32 06 07 00 " + "", reader.TechISO14443A, []int{0, 1}, 10, false},
		// Contact cards: T=0 only (no TCK), T=1 with TCK.
		{"contact t0", "3B 68 00 00 00 73 C8 40 12 00 90 00", reader.TechContact, []int{0}, 8, false},
		{"contact t1", "3B F9 96 00 00 81 31 FE 45 53 43 45 37 20 0E 00 20 20 28", reader.TechContact, []int{1, 1}, 9, false},
		{"bad TS", "3C 00", "", nil, 0, true},
		{"too short", "3B", "", nil, 0, true},
		{"missing historical", "3B 65 00 00", "", nil, 0, true},
		{"extra byte", "3B 00 00", "", nil, 0, true},
		{"TD missing", "3B 80", "", nil, 0, true},
		{"wrong TCK", "3B 80 80 01 02", "", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustHex(t, tt.hex)
			if tt.name == "type a" {
				raw = withTCK(raw)
			}
			a, err := ParseATR(raw)
			if tt.wantErr {
				if !errors.Is(err, ErrATR) {
					t.Fatalf("err = %v, want ErrATR", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Technology(); got != tt.tech {
				t.Errorf("tech %v, want %v", got, tt.tech)
			}
			if len(a.Historical) != tt.hist {
				t.Errorf("%d historical bytes, want %d", len(a.Historical), tt.hist)
			}
			if len(a.Protocols) != len(tt.protos) {
				t.Errorf("protocols %v, want %v", a.Protocols, tt.protos)
			}
		})
	}
}

// FuzzParseATR: never panics, and what parses is self-consistent.
func FuzzParseATR(f *testing.F) {
	f.Add([]byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6A})
	f.Add([]byte{0x3B, 0x88, 0x80, 0x01, 0, 0, 0, 0, 0x33, 0x81, 0x81, 0x00, 0x3A})
	f.Add([]byte{0x3B, 0xFF})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseATR(in)
		if err != nil {
			return
		}
		if len(a.Historical) != int(in[1]&0x0F) || len(a.Protocols) == 0 {
			t.Fatalf("inconsistent parse of % X: %+v", in, a)
		}
		_ = a.Technology()
	})
}
