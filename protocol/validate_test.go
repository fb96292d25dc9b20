package protocol

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestValidateRefusals: each message refuses a broken field with
// ErrMalformed (or ErrTooLarge), in Encode as in decoding.
func TestValidateRefusals(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name string
		msg  Message
		want error
	}{
		{"enrol request no token", &EnrolRequest{DeviceID: testDevice, PublicKey: []byte{1}, Alg: -8, Kind: DevicePOS}, ErrMalformed},
		{"enrol request no key", &EnrolRequest{DeviceID: testDevice, Token: "t", Alg: -8, Kind: DevicePOS}, ErrMalformed},
		{"enrol request kind 5", &EnrolRequest{DeviceID: testDevice, Token: "t", PublicKey: []byte{1}, Alg: -8, Kind: 5}, ErrMalformed},
		{"enrol request long firmware", &EnrolRequest{DeviceID: testDevice, Token: "t", PublicKey: []byte{1}, Alg: -8, Kind: DeviceGate, Firmware: long}, ErrMalformed},
		{"enrol request short terminal id", &EnrolRequest{DeviceID: testDevice, Token: "t", PublicKey: []byte{1}, Alg: -8, Kind: DevicePOS, TerminalID: make([]byte, 5)}, ErrMalformed},
		{"enrol request device id with space", &EnrolRequest{DeviceID: "pos 1", Token: "t", PublicKey: []byte{1}, Alg: -8, Kind: DevicePOS}, ErrMalformed},
		{"enrol response no key id", &EnrolResponse{DeviceID: testDevice, LedgerKey: []byte{1}, LedgerAlg: -8, ServerTime: 1}, ErrMalformed},
		{"enrol response no time", &EnrolResponse{DeviceID: testDevice, LedgerKeyID: "l", LedgerKey: []byte{1}, LedgerAlg: -8}, ErrMalformed},
		{"ack through 0", &Ack{DeviceID: testDevice, Head: make([]byte, 32), ServerTime: 1}, ErrMalformed},
		{"ack short head", &Ack{DeviceID: testDevice, AckedThrough: 1, Head: make([]byte, 31), ServerTime: 1}, ErrMalformed},
		{"status request no device", &StatusRequest{}, ErrMalformed},
		{"snapshot version 0", &StatusSnapshot{Digest: make([]byte, 32)}, ErrMalformed},
		{"snapshot reason 0", &StatusSnapshot{Version: 1, Entries: []StatusItem{{Card: "1"}}, Digest: make([]byte, 32)}, ErrMalformed},
		{"snapshot duplicate card", &StatusSnapshot{Version: 1, Entries: []StatusItem{{Card: "1", Reason: 1}, {Card: "1", Reason: 2}}, Digest: make([]byte, 32)}, ErrMalformed},
		{"delta bad card", &StatusDelta{From: 1, To: 2, Changes: []StatusItem{{Card: "a b"}}, Digest: make([]byte, 32)}, ErrMalformed},
		{"rules version 0", &Rules{}, ErrMalformed},
		{"rules bad issuer", &Rules{Version: 1, QRIssuers: []IssuerKey{{KeyID: "", Alg: -8, Key: []byte{1}}}}, ErrMalformed},
		{"rules meal past midnight", &Rules{Version: 1, Meals: []MealPeriod{{Name: "x", Start: 1441}}}, ErrMalformed},
		{"rules window days", &Rules{Version: 1, Profiles: []TimeProfile{{ID: "p", Windows: []TimeWindow{{Days: 0x80}}}}}, ErrMalformed},
		{"pending request no card", &PendingRequest{DeviceID: testDevice}, ErrMalformed},
		{"pending amount 0", &Pending{CardNo: "1", Loads: []PendingLoad{{LoadID: "L"}}}, ErrMalformed},
		{"pending too many", &Pending{CardNo: "1", Loads: make([]PendingLoad, MaxPendingLoads+1)}, ErrTooLarge},
		{"load init amount 0", &LoadInit{DeviceID: testDevice, CardNo: "1", CardSerial: make([]byte, 8), TerminalID: make([]byte, 6), Random: make([]byte, 4), MAC1: make([]byte, 4)}, ErrMalformed},
		{"load init short serial", &LoadInit{DeviceID: testDevice, CardNo: "1", CardSerial: make([]byte, 7), TerminalID: make([]byte, 6), Random: make([]byte, 4), MAC1: make([]byte, 4), Amount: 1}, ErrMalformed},
		{"load init response short tx time", &LoadInitResponse{LoadID: "L", Amount: 1, TxTime: make([]byte, 6), MAC2: make([]byte, 4)}, ErrMalformed},
		{"load init response amount 0", &LoadInitResponse{LoadID: "L", TxTime: make([]byte, 7), MAC2: make([]byte, 4)}, ErrMalformed},
		{"load confirm negative balance", &LoadConfirm{DeviceID: testDevice, LoadID: "L", CardNo: "1", TAC: make([]byte, 4), BalanceAfter: -1}, ErrMalformed},
		{"load confirm no load id", &LoadConfirm{DeviceID: testDevice, CardNo: "1", TAC: make([]byte, 4)}, ErrMalformed},
		{"load confirm response state 5", &LoadConfirmResponse{LoadID: "L", State: 5}, ErrMalformed},
		{"qr claims short nonce", &QRClaims{Subject: "1", IssuedAt: 1, Expires: 2, Nonce: make([]byte, 7)}, ErrMalformed},
		{"qr claims expires first", &QRClaims{Subject: "1", IssuedAt: 2, Expires: 2, Nonce: make([]byte, 8)}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.msg.Encode(); !errors.Is(err, tc.want) {
				t.Fatalf("Encode: err = %v, want %v", err, tc.want)
			}
			raw, err := recordEnc.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			var derr error
			if _, ok := tc.msg.(*QRClaims); ok {
				_, derr = DecodeQRClaims(raw)
			} else {
				_, derr = decodeAs(tc.msg, raw)
			}
			if !errors.Is(derr, tc.want) {
				t.Fatalf("decode: err = %v, want %v", derr, tc.want)
			}
		})
	}
}

// TestSealOpenEveryMessage seals every message type and opens it the way
// its receiver does: requests on the ledger side, answers on the device's.
func TestSealOpenEveryMessage(t *testing.T) {
	dev := testSigner(t, testDevice, 1)
	ledger := testSigner(t, ledgerKID, 2)
	devKeys, ledgerKeys := NewKeys(dev.PublicKey()), NewKeys(ledger.PublicKey())
	for _, m := range testMessages(t) {
		if er, ok := m.(*EnrolRequest); ok {
			er.PublicKey = dev.PublicKey().Key // proof of possession
		}
		t.Run(m.ContentType(), func(t *testing.T) {
			upstream := false
			if d, ok := m.(interface{ deviceID() string }); ok && d.deviceID() != "" {
				upstream = true
			}
			switch m.(type) {
			case *Ack, *EnrolResponse: // ledger answers that name the device
				upstream = false
			}
			s, keys := ledger, ledgerKeys
			if upstream {
				s, keys = dev, devKeys
			}
			msg, err := Seal(s, m, testDevice)
			if err != nil {
				t.Fatal(err)
			}
			var got Message
			if upstream {
				got, err = openFromDeviceAs(m, keys, msg)
			} else {
				got, err = openAs(m, keys, msg)
			}
			if err != nil {
				t.Fatal(err)
			}
			a, _ := m.Encode()
			b, _ := got.Encode()
			if string(a) != string(b) {
				t.Fatal("opened message differs")
			}
		})
	}
}

func openAs(m Message, keys KeySet, msg []byte) (Message, error) {
	switch m.(type) {
	case *EnrolResponse:
		v, _, err := Open[EnrolResponse](keys, msg, testDevice)
		return &v, err
	case *Ack:
		v, _, err := Open[Ack](keys, msg, testDevice)
		return &v, err
	case *StatusSnapshot:
		v, _, err := Open[StatusSnapshot](keys, msg, testDevice)
		return &v, err
	case *StatusDelta:
		v, _, err := Open[StatusDelta](keys, msg, testDevice)
		return &v, err
	case *Rules:
		v, _, err := Open[Rules](keys, msg, testDevice)
		return &v, err
	case *Pending:
		v, _, err := Open[Pending](keys, msg, testDevice)
		return &v, err
	case *LoadInitResponse:
		v, _, err := Open[LoadInitResponse](keys, msg, testDevice)
		return &v, err
	case *LoadConfirmResponse:
		v, _, err := Open[LoadConfirmResponse](keys, msg, testDevice)
		return &v, err
	case *Claims:
		v, _, err := Open[Claims](keys, msg, testDevice)
		return &v, err
	case *TransferResponse:
		v, _, err := Open[TransferResponse](keys, msg, testDevice)
		return &v, err
	}
	panic("not a downstream message")
}

func openFromDeviceAs(m Message, keys KeySet, msg []byte) (Message, error) {
	switch m.(type) {
	case *EnrolRequest:
		v, err := OpenEnrolRequest(msg)
		return &v, err
	case *Batch:
		v, _, err := OpenFromDevice[Batch](keys, msg)
		return &v, err
	case *StatusRequest:
		v, _, err := OpenFromDevice[StatusRequest](keys, msg)
		return &v, err
	case *RulesRequest:
		v, _, err := OpenFromDevice[RulesRequest](keys, msg)
		return &v, err
	case *PendingRequest:
		v, _, err := OpenFromDevice[PendingRequest](keys, msg)
		return &v, err
	case *LoadInit:
		v, _, err := OpenFromDevice[LoadInit](keys, msg)
		return &v, err
	case *LoadConfirm:
		v, _, err := OpenFromDevice[LoadConfirm](keys, msg)
		return &v, err
	case *ClaimRequest:
		v, _, err := OpenFromDevice[ClaimRequest](keys, msg)
		return &v, err
	case *LoadStatusRequest:
		v, _, err := OpenFromDevice[LoadStatusRequest](keys, msg)
		return &v, err
	case *TransferRequest:
		v, _, err := OpenFromDevice[TransferRequest](keys, msg)
		return &v, err
	}
	panic("not an upstream message")
}

func TestNames(t *testing.T) {
	for v, want := range map[interface{ String() string }]string{
		DevicePOS: "pos", DeviceGate: "gate", DeviceKiosk: "kiosk", DeviceKind(9): "kind(9)",
		LoadPending: "pending", LoadInitiated: "initiated", LoadCompleted: "completed", LoadCancelled: "cancelled", LoadState(9): "state(9)",
	} {
		if v.String() != want {
			t.Errorf("%v: String() = %q, want %q", v, v.String(), want)
		}
	}
	p := Pending{CardNo: "1", Loads: []PendingLoad{{LoadID: "a", Amount: 100}, {LoadID: "b", Amount: 250}}}
	if p.Total() != 350 {
		t.Errorf("Total = %d", p.Total())
	}
}

// An Error's message is cut to 512 bytes on a rune boundary when encoded.
func TestEncodeErrorTruncates(t *testing.T) {
	msg := strings.Repeat("错", 200) // 600 bytes
	b, err := EncodeError(&Error{Code: CodeInternal, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeError(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Message) > 512 || !utf8.ValidString(e.Message) || !strings.HasPrefix(msg, e.Message) {
		t.Fatalf("message of %d bytes, valid %v", len(e.Message), utf8.ValidString(e.Message))
	}
	if _, err := EncodeError(&Error{Code: 0}); err == nil {
		t.Fatal("encoded code 0")
	}
}
