package epurse

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
)

// TestSystemPINVector pins the system PIN's derivation. The expected
// values were computed independently of this package: 3DES with
// `openssl enc -des-ede-ecb -nopad` (DSPK left = 3DES(MK, factor), right =
// 3DES(MK, ^factor), E = 3DES(DSPK, factor)), SM4 with Python's
// cryptography (DSPK = SM4(MK, X), E = SM4(DSPK, X) with X = factor ‖
// ^factor), then decimalised by hand. MK is the system_pin key of
// reader/sam's test key file, the factor the demo student card's.
func TestSystemPINVector(t *testing.T) {
	mk := mustHex(t, "276DCE8EE067A61D8DB860C1AF6CC270")
	serial := [8]byte(mustHex(t, "2026090100000001"))
	for _, tc := range []struct {
		alg     Algorithm
		dspk, e string
		pin     string
	}{
		// E C0691D4B9DFFAFAE: digits 0 6 9 1 4 9 9 ..., so 069149.
		{AlgDES, "B39E04C36FB4A8CD14C8AF4C83EA573F", "C0691D4B9DFFAFAE", "069149"},
		// E 446712C8C82BC1C7: 4 4 6 7 1 2 ...
		{AlgSM4, "799AD44696A9CB492B9CFAFCE10740E2", "446712C8C82BC1C7", "446712"},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			dspk, err := DiversifyKey(tc.alg, mk, serial)
			if err != nil || !bytes.Equal(dspk, mustHex(t, tc.dspk)) {
				t.Fatalf("DSPK %X %v, want %s", dspk, err, tc.dspk)
			}
			pin, err := DeriveSystemPIN(tc.alg, mk, serial)
			if err != nil || hex.EncodeToString(pin) != tc.pin {
				t.Fatalf("PIN %X %v, want %s", pin, err, tc.pin)
			}
			// The PSAM's way: E from outside, decimalised here.
			pin2, err := SystemPINFromCipher(mustHex(t, tc.e))
			if err != nil || !bytes.Equal(pin2, pin) {
				t.Fatalf("from E: %X %v", pin2, err)
			}
		})
	}
	if _, err := DeriveSystemPIN(Algorithm(0x07), mk, serial); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("unknown algorithm: %v", err)
	}
	if _, err := DeriveSystemPIN(AlgDES, mk[:8], serial); !errors.Is(err, ErrKeyLength) {
		t.Errorf("short key: %v", err)
	}
}

func TestSystemPINDecimalise(t *testing.T) {
	for _, tc := range []struct{ e, pin string }{
		{"0123456789012345", "012345"},   // digits only
		{"AAAAAAAAAAAAAAAA", "000000"},   // letters only: A-10 = 0
		{"FFFFFFFFFFFFFFFF", "555555"},   // F-10 = 5
		{"ABCDEF0123ABCDEF", "012301"},   // four digits, then the letters A B
		{"1A2B3C4D5E6F7A8B00", "123456"}, // only the first 8 bytes count
		{"C0691D4B9DFFAFAE", "069149"},   // the 3DES vector's E
		{"FEDCBA9876543210", "987654"},   // descending
		{"FFFFFFFFFFFFFF00", "005555"},   // digits last in E come first
		{"888AAAAAAAAAAAAA", "888000"},   // three digits, then letters
		{"BCDEFABCDEFABCDE", "123450"},   // letters in order
	} {
		pin, err := SystemPINFromCipher(mustHex(t, tc.e))
		if err != nil {
			t.Fatalf("%s: %v", tc.e, err)
		}
		if got := hex.EncodeToString(pin); got != tc.pin {
			t.Errorf("%s: PIN %s, want %s", tc.e, got, tc.pin)
		}
	}
	if _, err := SystemPINFromCipher(make([]byte, 7)); !errors.Is(err, reader.ErrMalformed) {
		t.Errorf("7 bytes: %v", err)
	}
}

func TestVerifySystemPINCommand(t *testing.T) {
	cmd, err := VerifySystemPINCommand([]byte{0x06, 0x91, 0x49})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(cmd.Bytes())); got != "0020000103069149" {
		t.Errorf("VERIFY SYSTEM PIN %s, want 0020000103069149", got)
	}
	for _, bad := range [][]byte{nil, {0x1F}, {0x12, 0x3F, 0xFF}, {0x12, 0xA4}, {0xF1, 0x23}, bytes.Repeat([]byte{0x11}, 7)} {
		if _, err := VerifySystemPINCommand(bad); !errors.Is(err, ErrBadRequest) {
			t.Errorf("PIN block %X: %v, want ErrBadRequest", bad, err)
		}
	}
	if _, err := VerifySystemPINCommand([]byte{0x12, 0x3F}); err != nil {
		t.Errorf("odd PIN 123: %v", err)
	}
	// The card's answers map as for the holder's PIN.
	ctx := context.Background()
	for _, tc := range []struct {
		sw   string
		want func(error) bool
	}{
		{"9000", func(err error) bool { return err == nil }},
		{"63C4", func(err error) bool { var pe *PINError; return errors.As(err, &pe) && pe.Retries == 4 }},
		{"6983", func(err error) bool { return errors.Is(err, ErrLocked) }},
		{"6A88", func(err error) bool {
			var se *reader.StatusError
			return errors.As(err, &se) && se.SW == reader.SWRefDataNotFound
		}},
	} {
		card := readertest.NewCard(readertest.Step{Cmd: "0020000103069149", Resp: tc.sw})
		if err := VerifySystemPIN(ctx, card, []byte{0x06, 0x91, 0x49}); !tc.want(err) {
			t.Errorf("card answers %s: %v", tc.sw, err)
		}
	}
}

func TestEncryptECB(t *testing.T) {
	key := mustHex(t, "B39E04C36FB4A8CD14C8AF4C83EA573F") // the vector's DSPK
	x := mustHex(t, "2026090100000001")
	e, err := EncryptECB(AlgDES, key, append(append([]byte(nil), x...), x...))
	if err != nil || hex.EncodeToString(e) != "c0691d4b9dffafaec0691d4b9dffafae" {
		t.Fatalf("two blocks: %X %v", e, err)
	}
	for _, n := range []int{0, 7, 9} {
		if _, err := EncryptECB(AlgDES, key, make([]byte, n)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
	if _, err := EncryptECB(AlgSM4, key, make([]byte, 8)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("SM4, 8 bytes: %v", err)
	}
}
