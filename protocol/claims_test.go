package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSecretPINNeverPrints: a transfer request printed with any verb or
// as JSON shows no PIN; its CBOR carries it.
func TestSecretPINNeverPrints(t *testing.T) {
	m := TransferRequest{DeviceID: testDevice, CardNo: "2024000123", RequestID: bytes.Repeat([]byte{1}, RequestIDSize), Amount: 100, PIN: SecretPIN("975312")}
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %s %x %q %v", m, m, m, m.PIN, m.PIN, m.PIN, &m) + string(j)
	for _, leak := range []string{"975312", "393735333132", "57 55 53"} {
		if strings.Contains(out, leak) {
			t.Fatalf("PIN printed: %s", out)
		}
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTransferRequest(b)
	if err != nil || string(back.PIN) != "975312" {
		t.Fatalf("CBOR round trip: %v", err)
	}
}

// TestAccountMessagesInvalid: what the new messages refuse.
func TestAccountMessagesInvalid(t *testing.T) {
	id := bytes.Repeat([]byte{1}, RequestIDSize)
	for name, m := range map[string]Message{
		"claim negative balance": &ClaimRequest{DeviceID: testDevice, CardNo: "2024000123", CardBalance: -1},
		"claims above loadable":  &Claims{CardNo: "2024000123", Loadable: 10, Claimable: 11},
		"claims refused yet":     &Claims{CardNo: "2024000123", Loadable: 10, Claimable: 10, Refusal: CodeSpendOnly},
		"claims bad account":     &Claims{CardNo: "2024000123", Account: "a b"},
		"transfer short PIN":     &TransferRequest{DeviceID: testDevice, CardNo: "2024000123", RequestID: id, Amount: 1, PIN: SecretPIN("12")},
		"transfer letter PIN":    &TransferRequest{DeviceID: testDevice, CardNo: "2024000123", RequestID: id, Amount: 1, PIN: SecretPIN("12345a")},
		"transfer no id":         &TransferRequest{DeviceID: testDevice, CardNo: "2024000123", Amount: 1, PIN: SecretPIN("123456")},
		"transfer zero":          &TransferRequest{DeviceID: testDevice, CardNo: "2024000123", RequestID: id, PIN: SecretPIN("123456")},
		"transfer answer zero":   &TransferResponse{TransferID: "T-1"},
	} {
		if _, err := m.Encode(); CodeOf(err) != CodeMalformed {
			t.Errorf("%s: %v", name, err)
		}
	}
}
