package ledger_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/reader/epurse"
)

// TestIssuerPINs: the ledger derives the system PIN the SAMs derive (the
// vector of reader/epurse: the demo student card under the test keys).
func TestIssuerPINs(t *testing.T) {
	ctx := context.Background()
	pins := ledger.IssuerPINs(ledgertest.TestIssuerKeys())
	serial := [8]byte{0x20, 0x26, 0x09, 0x01, 0x00, 0x00, 0x00, 0x01}
	for alg, want := range map[epurse.Algorithm]string{epurse.AlgDES: "069149", epurse.AlgSM4: "446712"} {
		pin, err := pins.SystemPIN(ctx, epurse.SystemPINRequest{CardSerial: serial, KeyVersion: 1, Algorithm: alg})
		if err != nil || hex.EncodeToString(pin) != want {
			t.Errorf("%v: PIN %X %v, want %s", alg, pin, err, want)
		}
	}
	if _, err := pins.SystemPIN(ctx, epurse.SystemPINRequest{CardSerial: serial, KeyVersion: 9}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("unknown key version: %v", err)
	}
	noPIN, err := ledger.ParseIssuerKeys([]byte(`{"keys": [{"version": 1, "purchase": "00112233445566778899AABBCCDDEEFF",
		"load": "00112233445566778899AABBCCDDEEFF", "tac": "00112233445566778899AABBCCDDEEFF"}]}`))
	if err != nil || noPIN[1].SystemPIN != nil {
		t.Fatalf("key file without system_pin: %v %v", noPIN, err)
	}
	if _, err := ledger.IssuerPINs(noPIN).SystemPIN(ctx, epurse.SystemPINRequest{CardSerial: serial, KeyVersion: 1}); !errors.Is(err, epurse.ErrNoSystemPIN) || !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("no system_pin key: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pins.SystemPIN(cctx, epurse.SystemPINRequest{CardSerial: serial, KeyVersion: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestIssuerKeysSystemPIN(t *testing.T) {
	const set = `{"keys": [{"version": 2, "purchase": "00112233445566778899AABBCCDDEEFF", "load": "00112233445566778899AABBCCDDEEFF", "tac": "00112233445566778899AABBCCDDEEFF"%s}]}`
	k, err := ledger.ParseIssuerKeys([]byte(strings.Replace(set, "%s", `, "system_pin": "276DCE8EE067A61D 8DB860C1AF6CC270"`, 1)))
	if err != nil || hex.EncodeToString(k[2].SystemPIN) != "276dce8ee067a61d8db860c1af6cc270" {
		t.Fatalf("system_pin: %X %v", k[2].SystemPIN, err)
	}
	for _, bad := range []string{`, "system_pin": "00"`, `, "system_pin": "zz112233445566778899AABBCCDDEEFF"`, `, "system_pin": 5`, `, "systempin": "00112233445566778899AABBCCDDEEFF"`} {
		if _, err := ledger.ParseIssuerKeys([]byte(strings.Replace(set, "%s", bad, 1))); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", bad, err)
		}
	}
}
