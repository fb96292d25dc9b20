package epurse

import (
	"bytes"
	"crypto/des"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/reader"
)

// smVector is one entry of testdata/sm-vectors.json.
type smVector struct {
	Name      string `json:"name"`
	Source    string `json:"source"`
	Published bool   `json:"published"`
	Kind      string `json:"kind"` // secure_mac (a command as sent), secure_mac_data, pin_reload_mac
	Alg       string `json:"alg"`
	Key       string `json:"key"`
	Challenge string `json:"challenge,omitempty"`
	Command   string `json:"command,omitempty"` // secure_mac: the whole command, MAC last
	Data      string `json:"data,omitempty"`    // secure_mac_data: MAC input; pin_reload_mac: PIN digits
	Want      string `json:"want,omitempty"`    // regression vectors
}

// TestSecureVectors: the retail MAC reproduces every MAC a card accepted
// in the published logs, the command builders give those commands byte
// for byte, and the regression vectors stay what they were.
func TestSecureVectors(t *testing.T) {
	path := filepath.Join("testdata", "sm-vectors.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Comment []string   `json:"comment"`
		Vectors []smVector `json:"vectors"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	published, rebuilt := 0, 0
	for i, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			alg := map[string]Algorithm{"3des": AlgDES, "sm4": AlgSM4}[v.Alg]
			key := mustHex(t, v.Key)
			var ch [4]byte
			copy(ch[:], mustHex(t, v.Challenge))
			switch v.Kind {
			case "secure_mac":
				cmd := mustHex(t, v.Command)
				if len(cmd) < 9 || int(cmd[4]) != len(cmd)-5 {
					t.Fatalf("command %X: Lc does not match", cmd)
				}
				h, data, want := [5]byte(cmd[:5]), cmd[5:len(cmd)-4], [4]byte(cmd[len(cmd)-4:])
				got, err := SecureMAC(alg, key, ch, h[:], data)
				if err != nil || got != want {
					t.Fatalf("MAC %X (%v), the card accepted %X", got, err, want)
				}
				var again reader.Command
				switch {
				case h[1] == InsUpdateBinary:
					again, err = UpdateBinaryCommand(h[2]&0x1F, h[3], data, got)
				case h[1] == InsAppBlock:
					again = AppBlockCommand(h[3] == 1, got)
				case h[1] == InsAppUnblock:
					again = AppUnblockCommand(got)
				default:
					return // UPDATE RECORD, WRITE KEY: the MAC only
				}
				if err != nil || !bytes.Equal(again.Bytes(), cmd) {
					t.Fatalf("builder gives %X (%v), the log %X", again.Bytes(), err, cmd)
				}
				rebuilt++
			case "secure_mac_data", "pin_reload_mac":
				var got [4]byte
				var err error
				if v.Kind == "secure_mac_data" {
					got, err = SecureMAC(alg, key, ch, mustHex(t, v.Data))
				} else {
					pin, perr := EncodePIN(v.Data)
					if perr != nil {
						t.Fatal(perr)
					}
					got, err = PINReloadMAC(alg, key, pin)
				}
				if err != nil {
					t.Fatal(err)
				}
				if *update && !v.Published {
					f.Vectors[i].Want = hex.EncodeToString(got[:])
					return
				}
				if want := mustHex(t, v.Want); !bytes.Equal(got[:], want) {
					t.Fatalf("got %X, want %X", got, want)
				}
			default:
				t.Fatalf("unknown kind %q", v.Kind)
			}
		})
		if v.Published {
			published++
		}
	}
	if published < 9 || rebuilt < 5 {
		t.Errorf("%d published vectors, %d commands rebuilt", published, rebuilt)
	}
	if *update {
		out, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecureMACConstruction: the retail MAC is single DES under K_L over
// all blocks but the last, 3DES on the last; not 3DES throughout. The
// padding always adds a block to aligned data; the IV is the challenge.
func TestSecureMACConstruction(t *testing.T) {
	key := mustHex(t, "fe43601e47b93fc500099aa0a17d1554")
	ch := [4]byte{0x1f, 0xb1, 0xf7, 0xc0}
	data := mustHex(t, "04d6950022073141000000000001010000410000008999998520150605203808080000")
	want := [4]byte{0x9d, 0x3e, 0x6e, 0x6a}
	if got, _ := SecureMAC(AlgDES, key, ch, data[:7], data[7:]); got != want {
		t.Fatalf("split input: %X", got)
	}
	// Full 3DES chaining with the IV (the other reading of "3DES MAC").
	tdes, _ := blockCipher(AlgDES, key)
	iv := append(ch[:], 0, 0, 0, 0)
	if got := chainMAC(tdes, iv, nil, [][]byte{data}); got == want {
		t.Fatal("full 3DES chaining matched the log: the retail MAC is not needed")
	}
	other := ch
	other[3] ^= 1
	if got, _ := SecureMAC(AlgDES, key, other, data); got == want {
		t.Fatal("the challenge does not enter the MAC")
	}
	// Aligned input: two blocks, the data and 80 00.., by hand.
	aligned := mustHex(t, "04d6921d07010203")
	kl, _ := des.NewCipher(key[:8])
	kr, _ := des.NewCipher(key[8:])
	acc := make([]byte, 8)
	for i := range acc {
		acc[i] = iv[i] ^ aligned[i]
	}
	kl.Encrypt(acc, acc)
	acc[0] ^= 0x80
	kl.Encrypt(acc, acc)
	kr.Decrypt(acc, acc)
	kl.Encrypt(acc, acc)
	if a, _ := SecureMAC(AlgDES, key, ch, aligned); a != [4]byte(acc[:4]) {
		t.Errorf("aligned input: %X, by hand %X", a, acc[:4])
	}
	for _, tc := range []struct {
		alg Algorithm
		key []byte
		err error
	}{
		{AlgDES, make([]byte, 8), ErrKeyLength},
		{AlgSM4, make([]byte, 24), ErrKeyLength},
		{Algorithm(7), make([]byte, 16), ErrUnsupportedAlgorithm},
	} {
		if _, err := SecureMAC(tc.alg, tc.key, ch, data); !errors.Is(err, tc.err) {
			t.Errorf("%s key %d: %v, want %v", tc.alg, len(tc.key), err, tc.err)
		}
	}
	// PIN RELOAD: the single-DES MAC under DRPK_L ⊕ DRPK_R with a zero IV.
	drpk := mustHex(t, "c3bbf8cef78f40f0e8a1e5ed2e913743")
	fold := make([]byte, 8)
	for i := range fold {
		fold[i] = drpk[i] ^ drpk[8+i]
	}
	pin := []byte{0x12, 0x34, 0x56}
	m1, err1 := PINReloadMAC(AlgDES, drpk, pin)
	m2, err2 := MAC(AlgDES, fold, pin)
	if err1 != nil || err2 != nil || m1 != m2 {
		t.Errorf("PIN RELOAD MAC %X %v, single DES under the folded key %X %v", m1, err1, m2, err2)
	}
	if _, err := PINReloadMAC(AlgDES, drpk[:8], pin); !errors.Is(err, ErrKeyLength) {
		t.Errorf("short DRPK: %v", err)
	}
}

// TestSecureCommands: the builders' bytes and their refusals.
func TestSecureCommands(t *testing.T) {
	mac := [4]byte{0xA1, 0xA2, 0xA3, 0xA4}
	for _, tc := range []struct {
		name string
		cmd  reader.Command
		hex  string
	}{
		{"get challenge", GetChallengeCommand(), "0084000004"},
		{"block temporary", AppBlockCommand(false, mac), "841e000004a1a2a3a4"},
		{"block permanent", AppBlockCommand(true, mac), "841e000104a1a2a3a4"},
		{"unblock", AppUnblockCommand(mac), "8418000004a1a2a3a4"},
	} {
		if got := hex.EncodeToString(tc.cmd.Bytes()); got != tc.hex {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.hex)
		}
	}
	ub, err := UpdateBinaryCommand(SFICampus, 1, []byte{0, 0, 0x13, 0x88}, mac)
	if err != nil || hex.EncodeToString(ub.Bytes()) != "04d692010800001388a1a2a3a4" {
		t.Errorf("update binary: %X %v", ub.Bytes(), err)
	}
	pin, _ := EncodePIN("12345")
	pr, err := PINReloadCommand(pin, mac)
	if err != nil || hex.EncodeToString(pr.Bytes()) != "805e000007"+"12345f"+"a1a2a3a4" {
		t.Errorf("pin reload: %X %v", pr.Bytes(), err)
	}
	for _, bad := range []struct {
		name string
		err  error
	}{
		{"sfi 0", func() error { _, err := UpdateBinaryHeader(0, 0, 1); return err }()},
		{"sfi 31", func() error { _, err := UpdateBinaryHeader(31, 0, 1); return err }()},
		{"no data", func() error { _, err := UpdateBinaryCommand(SFICampus, 0, nil, mac); return err }()},
		{"too much data", func() error {
			_, err := UpdateBinaryCommand(SFICampus, 0, make([]byte, MaxSecureData+1), mac)
			return err
		}()},
		{"pin not bcd", func() error { _, err := PINReloadCommand([]byte{0x1A, 0x23}, mac); return err }()},
		{"expiry not a date", func() error { _, err := ExpiryWrite([4]byte{0x20, 0x30, 0x13, 0x01}); return err }()},
	} {
		if !errors.Is(bad.err, ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", bad.name, bad.err)
		}
	}
	if h, err := UpdateBinaryHeader(SFICampus, 9, MaxSecureData); err != nil || h[4] != 0xFF {
		t.Errorf("largest write: %X %v", h, err)
	}
	if ch, err := ParseChallenge([]byte{1, 2, 3, 4}); err != nil || ch != [4]byte{1, 2, 3, 4} {
		t.Errorf("challenge: %X %v", ch, err)
	}
	if _, err := ParseChallenge([]byte{1, 2, 3, 4, 5, 6, 7, 8}); !errors.Is(err, reader.ErrMalformed) {
		t.Errorf("8-byte challenge: %v", err)
	}
}

// TestSecureErrors: each status word of the writes maps to what callers
// test, the status word still in the chain, and the refusals are the
// answers that changed nothing.
func TestSecureErrors(t *testing.T) {
	for _, tc := range []struct {
		sw      reader.SW
		want    error
		code    string
		refused bool
	}{
		{0x6984, ErrNoChallenge, "no-challenge", true},
		{0x6987, ErrMACMissing, "mac-missing", true},
		{0x6988, ErrMACInvalid, "mac-invalid", true},
		{0x6A81, ErrAppBlocked, "app-blocked", true},
		{0x9303, ErrLocked, "card-locked", true},
		{0x6983, ErrLocked, "card-locked", true},
		{0x6581, nil, "card-sw-6581", false},
	} {
		err := smError(fmt.Errorf("x: %w", &reader.StatusError{SW: tc.sw}))
		var se *reader.StatusError
		if (tc.want != nil && !errors.Is(err, tc.want)) || !errors.As(err, &se) || se.SW != tc.sw {
			t.Errorf("%04X: %v, want %v", uint16(tc.sw), err, tc.want)
		}
		if got := ReasonCode(err); got != tc.code {
			t.Errorf("%04X: reason %q, want %q", uint16(tc.sw), got, tc.code)
		}
		if refusedBySW(err, smRefusingSW) != tc.refused {
			t.Errorf("%04X: refused %v, want %v", uint16(tc.sw), !tc.refused, tc.refused)
		}
	}
	if err := smError(&reader.StatusError{SW: 0x63C1}); !errors.As(err, new(*PINError)) {
		t.Errorf("63C1: %v", err)
	}
	for _, tc := range []struct {
		sw   reader.SW
		want []error
	}{
		{0x6A81, []error{ErrAppBlocked}},
		{0x9303, []error{ErrAppBlocked, ErrLocked}},
	} {
		err := selectError(&reader.StatusError{SW: tc.sw})
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("SELECT %04X: %v, want %v", uint16(tc.sw), err, w)
			}
		}
	}
	if err := selectError(&reader.StatusError{SW: 0x6A82}); errors.Is(err, ErrAppBlocked) {
		t.Errorf("SELECT 6A82 is not a blocked application: %v", err)
	}
}

// TestCampusData: the layout byte for byte, the strict parser, and the
// writes' places in the files.
func TestCampusData(t *testing.T) {
	d := CampusData{TxnLimit: 5000, DailyLimit: 30000, StatusListVersion: 0x0102030405060708}
	b := d.Bytes()
	want := "01" + "00001388" + "00007530" + "0102030405060708" + "000000000000000000000000000000"
	if hex.EncodeToString(b) != want || len(b) != CampusDataLen {
		t.Fatalf("Bytes = %x", b)
	}
	back, err := ParseCampusData(b)
	if err != nil || back != d {
		t.Fatalf("Parse = %+v %v", back, err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", b[:31]},
		{"long", append(append([]byte(nil), b...), 0)},
		{"empty", nil},
		{"layout 2", append([]byte{2}, b[1:]...)},
		{"reserved set", append(append([]byte(nil), b[:31]...), 1)},
	} {
		if _, err := ParseCampusData(tc.b); !errors.Is(err, reader.ErrMalformed) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Each write lands on its field.
	apply := func(file []byte, w BinaryWrite) []byte {
		out := append([]byte(nil), file...)
		copy(out[w.Offset:], w.Data)
		return out
	}
	if got, _ := ParseCampusData(apply(b, LimitsWrite(10000, 0))); got != (CampusData{TxnLimit: 10000, StatusListVersion: d.StatusListVersion}) {
		t.Errorf("limits write: %+v", got)
	}
	if got, _ := ParseCampusData(apply(b, ListVersionWrite(42))); got != (CampusData{TxnLimit: 5000, DailyLimit: 30000, StatusListVersion: 42}) {
		t.Errorf("version write: %+v", got)
	}
	pub := newTestCard(AlgDES, 1, 0).pub
	pub.Status = CardStatusLocked
	ew, err := ExpiryWrite([4]byte{0x20, 0x31, 0x08, 0x31})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ParsePublicData(apply(apply(pub.Bytes(), CardStatusWrite(CardStatusNormal)), ew))
	if err != nil || p2.Status != CardStatusNormal || p2.End != [4]byte{0x20, 0x31, 0x08, 0x31} || p2.Serial != pub.Serial {
		t.Errorf("0x15 writes: %+v %v", p2, err)
	}
	if w := UnfreezeWrites(pub, 9); len(w) != 2 || w[0].SFI != SFICampus || w[1].SFI != SFIPublicData {
		t.Errorf("unfreeze of a locked card: %+v", w)
	}
	pub.Status = CardStatusNormal
	if w := UnfreezeWrites(pub, 9); len(w) != 1 || w[0].SFI != SFICampus {
		t.Errorf("unfreeze of a card normal on the card: %+v", w)
	}
}
