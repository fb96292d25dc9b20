package offline

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestStatusValueCodec(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		reason  Reason
		since   int64
		version uint64
		wantErr error
	}{
		{"lost", "01" + "80b584af06" + "0a", ReasonLost, 1709251200, 10, nil},
		{"zero since", "05" + "00" + "01", ReasonExpired, 0, 1, nil},
		{"too short", "0100", 0, 0, 0, ErrCorrupt},
		{"reason 0", "000000", 0, 0, 0, ErrCorrupt},
		{"reason 9", "090000", 0, 0, 0, ErrCorrupt},
		{"non-minimal varint", "01" + "8000" + "00", 0, 0, 0, ErrCorrupt},
		{"trailing byte", "01000000", 0, 0, 0, ErrCorrupt},
		{"truncated varint", "0100ff", 0, 0, 0, ErrCorrupt},
		{"since overflows int64", "01" + "ffffffffffffffffff01" + "00", 0, 0, 0, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tt.hex)
			r, s, v, err := decodeStatusValue(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("decode = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r != tt.reason || s != tt.since || v != tt.version {
				t.Fatalf("decode = %v %d %d", r, s, v)
			}
			if enc := encodeStatusValue(nil, r, s, v); !bytes.Equal(enc, b) {
				t.Fatalf("encode = %x, want %x", enc, b)
			}
		})
	}
}

func FuzzStatusValue(f *testing.F) {
	f.Add(encodeStatusValue(nil, ReasonLost, 1709251200, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, s, v, err := decodeStatusValue(b)
		if err != nil {
			return
		}
		// One value, one encoding: what decodes re-encodes to the same bytes.
		if enc := encodeStatusValue(nil, r, s, v); !bytes.Equal(enc, b) {
			t.Fatalf("accepted %x, re-encodes to %x", b, enc)
		}
	})
}
