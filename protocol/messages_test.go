package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// testRecords returns n chained canonical records of device dev, from seq 1.
func testRecords(t testing.TB, dev string, n int) [][]byte {
	t.Helper()
	prev := GenesisHash(dev)
	out := make([][]byte, n)
	for i := range out {
		r := Record{
			Seq: uint64(i + 1), Time: 1_725_177_600_000 + int64(i)*1000, Kind: KindPurchaseCompleted, Prev: prev[:],
			IntentID: uint64(i + 1), CardNo: "2024000123", Amount: 1250, BalanceBefore: 50000, BalanceAfter: 48750,
			CardCounter: uint32(i), TerminalSeq: uint32(i + 1), TerminalID: []byte{0, 0, 0, 0, 0, 1},
			TAC: []byte{1, 2, 3, 4}, MAC2: []byte{5, 6, 7, 8},
			TxTime: []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0x30, 0x05}, CardSerial: []byte{0x10, 0, 0, 0, 0, 0, 0x01, 0x23},
			KeyIndex: 1, KeyVersion: 2, Algorithm: 4, MAC1: []byte{9, 10, 11, 12},
		}
		b, err := EncodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
		prev = RecordHash(b)
	}
	return out
}

const testDevice = "pos-canteen1-07"

func testBatch(t testing.TB, n int) Batch {
	t.Helper()
	b, err := NewBatch(testDevice, 7, GenesisHash(testDevice), testRecords(t, testDevice, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testSnapshot() StatusSnapshot {
	s := StatusSnapshot{Version: 12, Entries: []StatusItem{
		{Card: "2024000001", Reason: 1, Since: 1_725_000_000},
		{Card: "2024000002", Reason: 2, Since: 1_725_000_100},
	}}
	d := StatusDigest(s.StatusEntries())
	s.Digest = d[:]
	return s
}

// testMessages returns one valid value of every message type.
func testMessages(t testing.TB) []Message {
	h := bytes.Repeat([]byte{0xab}, HashSize)
	b := testBatch(t, 3)
	s := testSnapshot()
	return []Message{
		&EnrolRequest{DeviceID: testDevice, Token: "tok-123", PublicKey: bytes.Repeat([]byte{1}, 32), Alg: AlgEd25519, Kind: DevicePOS, Firmware: "1.2.0"},
		&EnrolResponse{DeviceID: testDevice, LedgerKeyID: "ledger-2026", LedgerKey: bytes.Repeat([]byte{2}, 32), LedgerAlg: AlgEd25519, ServerTime: 1_725_177_600_000},
		&b,
		&Ack{DeviceID: testDevice, BatchNo: 7, AckedThrough: 3, Head: h, ServerTime: 1_725_177_601_000},
		&StatusRequest{DeviceID: testDevice, Have: 11},
		&s,
		&StatusDelta{From: 11, To: 12, Changes: []StatusItem{{Card: "2024000001", Reason: 1, Since: 1_725_000_000}, {Card: "2024000009"}}, Digest: h},
		&RulesRequest{DeviceID: testDevice, Have: 3},
		&Rules{Version: 4, Issued: 1_725_177_600_000, Prices: map[string]int64{"set-meal": 1200, "noodles": 800},
			QRIssuers: []IssuerKey{{KeyID: "qr-1", Alg: AlgEd25519, Key: bytes.Repeat([]byte{3}, 32)}}},
		&PendingRequest{DeviceID: testDevice, CardNo: "2024000123"},
		&Pending{CardNo: "2024000123", Loads: []PendingLoad{{LoadID: "L-1", Amount: 10000, Created: 1_725_177_000_000}}},
		&LoadInit{DeviceID: testDevice, CardNo: "2024000123", CardSerial: make([]byte, 8), TerminalID: make([]byte, 6),
			OnlineCounter: 3, BalanceBefore: 500, Amount: 10000, KeyIndex: 1, KeyVersion: 1, Algorithm: 0, Random: []byte{1, 2, 3, 4}, MAC1: []byte{5, 6, 7, 8}},
		&LoadInitResponse{LoadID: "L-1", Amount: 10000, TxTime: []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x30, 0x00}, MAC2: []byte{1, 2, 3, 4}},
		&LoadConfirm{DeviceID: testDevice, LoadID: "L-1", CardNo: "2024000123", OnlineCounter: 3, TAC: []byte{9, 9, 9, 9}, BalanceAfter: 10500},
		&LoadConfirmResponse{LoadID: "L-1", State: LoadCompleted},
		&ClaimRequest{DeviceID: testDevice, CardNo: "2024000123", CardBalance: 1500},
		&LoadStatusRequest{DeviceID: testDevice, LoadID: "17", CardNo: "2024000123"},
		&Claims{CardNo: "2024000123", Account: "S2024-001", Loadable: 5000, Claimable: 5000, PurseLimit: 100000, TxLimit: 5000},
		&TransferRequest{DeviceID: testDevice, CardNo: "2024000123", RequestID: bytes.Repeat([]byte{7}, RequestIDSize), Amount: 20000, PIN: SecretPIN("123456")},
		&TransferResponse{TransferID: "T-1", Amount: 20000, Loadable: 25000, BankRef: "sim-1"},
	}
}

// decodeAs decodes b as a message of the same type as m.
func decodeAs(m Message, b []byte) (Message, error) {
	switch m.(type) {
	case *EnrolRequest:
		v, err := DecodeEnrolRequest(b)
		return &v, err
	case *EnrolResponse:
		v, err := DecodeEnrolResponse(b)
		return &v, err
	case *Batch:
		v, err := DecodeBatch(b)
		return &v, err
	case *Ack:
		v, err := DecodeAck(b)
		return &v, err
	case *StatusRequest:
		v, err := DecodeStatusRequest(b)
		return &v, err
	case *StatusSnapshot:
		v, err := DecodeStatusSnapshot(b)
		return &v, err
	case *StatusDelta:
		v, err := DecodeStatusDelta(b)
		return &v, err
	case *RulesRequest:
		v, err := DecodeRulesRequest(b)
		return &v, err
	case *Rules:
		v, err := DecodeRules(b)
		return &v, err
	case *PendingRequest:
		v, err := DecodePendingRequest(b)
		return &v, err
	case *Pending:
		v, err := DecodePending(b)
		return &v, err
	case *LoadInit:
		v, err := DecodeLoadInit(b)
		return &v, err
	case *LoadInitResponse:
		v, err := DecodeLoadInitResponse(b)
		return &v, err
	case *LoadConfirm:
		v, err := DecodeLoadConfirm(b)
		return &v, err
	case *LoadConfirmResponse:
		v, err := DecodeLoadConfirmResponse(b)
		return &v, err
	case *LoadStatusRequest:
		v, err := DecodeLoadStatusRequest(b)
		return &v, err
	case *ClaimRequest:
		v, err := DecodeClaimRequest(b)
		return &v, err
	case *Claims:
		v, err := DecodeClaims(b)
		return &v, err
	case *TransferRequest:
		v, err := DecodeTransferRequest(b)
		return &v, err
	case *TransferResponse:
		v, err := DecodeTransferResponse(b)
		return &v, err
	}
	panic("unknown message type")
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, m := range testMessages(t) {
		t.Run(m.ContentType(), func(t *testing.T) {
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeAs(m, b)
			if err != nil {
				t.Fatal(err)
			}
			b2, err := got.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("decode/encode changed the bytes:\n%x\n%x", b, b2)
			}
			// Truncated and trailing bytes are refused as malformed.
			if _, err := decodeAs(m, b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
				t.Errorf("truncated: err = %v, want ErrMalformed", err)
			}
			if _, err := decodeAs(m, append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
				t.Errorf("trailing byte: err = %v, want ErrMalformed", err)
			}
		})
	}
}
