package sam_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
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
