package sam_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// studentPIN is the system PIN of the demo student card under the test
// keys (the vector of reader/epurse's TestSystemPINVector).
var studentPIN = epurse.SystemPINRequest{CardSerial: [8]byte{0x20, 0x26, 0x09, 0x01, 0x00, 0x00, 0x00, 0x01}, KeyVersion: 1, Algorithm: epurse.AlgDES}

func TestSoftwareSystemPIN(t *testing.T) {
	ctx := context.Background()
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	pin, err := s.SystemPIN(ctx, studentPIN)
	if err != nil || hex.EncodeToString(pin) != "069149" {
		t.Fatalf("system PIN %X %v, want 069149", pin, err)
	}
	sm4 := studentPIN
	sm4.Algorithm = epurse.AlgSM4
	if pin, err := s.SystemPIN(ctx, sm4); err != nil || hex.EncodeToString(pin) != "446712" {
		t.Fatalf("SM4 system PIN %X %v, want 446712", pin, err)
	}
	unknown := studentPIN
	unknown.KeyVersion = 7
	if _, err := s.SystemPIN(ctx, unknown); !errors.Is(err, sam.ErrUnknownKeyVersion) {
		t.Fatalf("unknown key version: %v", err)
	}
}

// A key file written before system_pin existed keeps working for
// purchases and says what is missing when a load asks for the PIN.
func TestKeyFileWithoutSystemPIN(t *testing.T) {
	ctx := context.Background()
	old := strings.Replace(string(sam.TestKeyFile), `,
      "system_pin": "276DCE8EE067A61D8DB860C1AF6CC270"`, "", 1)
	if old == string(sam.TestKeyFile) {
		t.Fatal("the test key file has no system_pin to remove")
	}
	kf, err := sam.ParseKeyFile([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	kf.SequenceFile = "" // in memory
	s, err := sam.NewSoftware(kf)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InitPurchase(ctx, request(epurse.AlgDES)); err != nil {
		t.Fatalf("purchase without a system_pin key: %v", err)
	}
	_, err = s.SystemPIN(ctx, studentPIN)
	if !errors.Is(err, sam.ErrNoSystemPINKey) || !errors.Is(err, epurse.ErrNoSystemPIN) || !strings.Contains(err.Error(), "system_pin") {
		t.Fatalf("system PIN without the key: %v", err)
	}
	for _, bad := range []string{`"00"`, `"276DCE8EE067A61D8DB860C1AF6CC2"`, `"not hex at all, not hex at all!!"`, `16`} {
		b := strings.Replace(string(sam.TestKeyFile), `"276DCE8EE067A61D8DB860C1AF6CC270"`, bad, 1)
		if _, err := sam.ParseKeyFile([]byte(b)); !errors.Is(err, sam.ErrKeyFile) {
			t.Errorf("system_pin %s: %v, want ErrKeyFile", bad, err)
		}
	}
}

// The virtual PSAM derives the system PIN as the software SAM does, through
// CardSAM's DIVERSIFY KEY and ENCRYPT, for both algorithms.
func TestCardSAMSystemPIN(t *testing.T) {
	ctx := context.Background()
	soft, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	psam := sim.NewDemoPSAM()
	_, card, _ := slot(t, psam)
	cs := sam.NewCardSAM(card, nil)
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		req := studentPIN
		req.Algorithm = alg
		for _, serial := range [][8]byte{req.CardSerial, {0x20, 0x26, 0x09, 0x01, 0x00, 0x00, 0x04, 0x42}} {
			req.CardSerial = serial
			got, err := cs.SystemPIN(ctx, req)
			if err != nil {
				t.Fatalf("%v %X: %v", alg, serial, err)
			}
			want, _ := soft.SystemPIN(ctx, req)
			if !bytes.Equal(got, want) {
				t.Fatalf("%v %X: PSAM PIN %X, software %X", alg, serial, got, want)
			}
		}
	}
	// A key version the PSAM does not hold: 6A88, ErrNoSystemPINKey.
	unknown := studentPIN
	unknown.KeyVersion = 7
	_, err = cs.SystemPIN(ctx, unknown)
	var se *reader.StatusError
	if !errors.Is(err, sam.ErrNoSystemPINKey) || !errors.As(err, &se) || se.SW != reader.SWRefDataNotFound {
		t.Fatalf("key version 7: %v", err)
	}
	// DIVERSIFY KEY overwrites the temporary key: the purchase session
	// INIT SAM FOR PURCHASE opened is gone.
	if _, _, err := cs.InitPurchase(ctx, request(epurse.AlgDES)); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.SystemPIN(ctx, studentPIN); err != nil {
		t.Fatal(err)
	}
	if err := cs.VerifyMAC2(ctx, [4]byte{}); !errors.As(err, &se) || se.SW != reader.SWConditionsNotMet {
		t.Fatalf("MAC2 after DIVERSIFY KEY: %v, want 6985", err)
	}
	// A torn PSAM: removed, and the next call selects afresh.
	if err := psam.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDiversifyKey}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.SystemPIN(ctx, studentPIN); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("torn PSAM: %v", err)
	}
}

// The raw commands: ENCRYPT needs a DIVERSIFY KEY first (6985); a reset or
// SELECT forgets the temporary key; wrong lengths and key usages are
// refused; a PSAM whose key file has no system_pin answers 6A88.
func TestPSAMSystemPINCommands(t *testing.T) {
	x := studentPIN.CardSerial[:]
	div := reader.Command{CLA: 0x80, INS: sam.InsDiversifyKey, P1: sam.KeyUsageSystemPIN, P2: 1, Data: x}
	enc := reader.Command{CLA: 0x80, INS: sam.InsEncrypt, P1: sam.EncryptP1ECB, Data: x, Le: 8, HasLe: true}
	sel := reader.Command{CLA: 0x00, INS: 0xA4, P1: 0x00, Data: sam.DefaultApp}
	psam := sim.NewDemoPSAM()
	_, card, _ := slot(t, psam)
	run := func(name string, cmd reader.Command, want reader.SW) []byte {
		t.Helper()
		resp, err := reader.Exchange(context.Background(), card, cmd)
		if err != nil || resp.SW != want {
			t.Fatalf("%s: %v %v, want %v", name, resp.SW, err, want)
		}
		return resp.Data
	}
	run("select", sel, reader.SWOK)
	run("encrypt first", enc, reader.SWConditionsNotMet)
	run("diversify", div, reader.SWOK)
	e := run("encrypt", enc, reader.SWOK)
	if pin, _ := epurse.SystemPINFromCipher(e); hex.EncodeToString(pin) != "069149" {
		t.Fatalf("E %X gives PIN %X, want 069149", e, pin)
	}
	run("select again", sel, reader.SWOK)
	run("encrypt after select", enc, reader.SWConditionsNotMet)
	bad := div
	bad.P1 = 0x28
	run("another key usage", bad, reader.SWRefDataNotFound)
	bad = div
	bad.Data = x[:7]
	run("7-byte factor", bad, reader.SWWrongLength)
	bad = div
	bad.Data = append(append([]byte(nil), x...), x...)
	run("SM4 input that is not factor and its complement", bad, reader.SWWrongData)
	run("diversify once more", div, reader.SWOK)
	badEnc := enc
	badEnc.Data = x[:5]
	run("encrypt 5 bytes", badEnc, reader.SWWrongLength)
	badEnc = enc
	badEnc.P1 = 0x05
	run("MAC with initial value: not supported", badEnc, reader.SWWrongP1P2)

	kf := sam.TestKeys()
	ks := kf.Keys[1]
	ks.SystemPIN = nil
	kf.Keys = map[byte]epurse.Keys{1: ks}
	_, card, _ = slot(t, sim.NewPSAMCard(kf))
	run("select without key", sel, reader.SWOK)
	run("diversify without key", div, reader.SWRefDataNotFound)
}
