package protocol

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func testLoadInit() *LoadInit {
	return &LoadInit{DeviceID: testDevice, CardNo: "2024000123", CardSerial: make([]byte, 8), TerminalID: make([]byte, 6),
		OnlineCounter: 3, BalanceBefore: 500, Amount: 10000, KeyIndex: 1, KeyVersion: 1, Algorithm: 0,
		Random: []byte{1, 2, 3, 4}, MAC1: []byte{5, 6, 7, 8}, TxTime: []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x30, 0x05}}
}

// TestLoadInitTxTime: the kiosk's transaction time travels under key 13
// and comes back identical; without it the encoding is the one of the
// message before the field existed.
func TestLoadInitTxTime(t *testing.T) {
	m := testLoadInit()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "load-init-txtime", b)
	got, err := DecodeLoadInit(b)
	if err != nil || !bytes.Equal(got.TxTime, m.TxTime) || got.Amount != m.Amount {
		t.Fatalf("decoded %+v %v", got, err)
	}
	if !bytes.Contains(b, []byte{0x0D, 0x47, 0x20, 0x26, 0x11, 0x22, 0x15, 0x30, 0x05}) {
		t.Errorf("tx time is not key 13, bstr(7): %x", b)
	}

	m.TxTime = nil
	without, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(without, []byte{0x0D, 0x47}) || len(without) != len(b)-9 {
		t.Errorf("absent tx time still encoded: %x", without)
	}
	if got, err := DecodeLoadInit(without); err != nil || got.TxTime != nil {
		t.Errorf("without tx time: %+v %v", got, err)
	}
}

func TestLoadInitTxTimeRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		tx   []byte
	}{
		{"6 bytes", []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x30}},
		{"8 bytes", []byte{0x20, 0x26, 0x11, 0x22, 0x15, 0x30, 0x05, 0x00}},
		{"not BCD", []byte{0x20, 0x26, 0x1A, 0x22, 0x15, 0x30, 0x05}},
		{"month 13", []byte{0x20, 0x26, 0x13, 0x01, 0x15, 0x30, 0x05}},
		{"February 30", []byte{0x20, 0x26, 0x02, 0x30, 0x15, 0x30, 0x05}},
		{"day 0", []byte{0x20, 0x26, 0x02, 0x00, 0x15, 0x30, 0x05}},
		{"hour 24", []byte{0x20, 0x26, 0x11, 0x22, 0x24, 0x00, 0x00}},
		{"second 60", []byte{0x20, 0x26, 0x11, 0x22, 0x23, 0x59, 0x60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testLoadInit()
			m.TxTime = tc.tx
			if _, err := m.Encode(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("encode: %v, want malformed", err)
			}
			raw, err := recordEnc.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeLoadInit(raw); !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode: %v, want malformed", err)
			}
		})
	}
}

// TestLoadInitEmptyTxTime: an empty tx time is refused, encoded or
// decoded (absent is absent: key 13 left out).
func TestLoadInitEmptyTxTime(t *testing.T) {
	m := testLoadInit()
	m.TxTime = []byte{}
	if _, err := m.Encode(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("encode with an empty tx time: %v, want malformed", err)
	}
	m.TxTime = nil
	raw, err := m.Encode()
	if err != nil || raw[0] != 0xac { // map(12)
		t.Fatalf("%x %v", raw, err)
	}
	raw = append([]byte{0xad}, raw[1:]...) // map(13) …
	raw = append(raw, 0x0d, 0x40)          // … 13: h''
	if _, err := DecodeLoadInit(raw); !errors.Is(err, ErrMalformed) {
		t.Fatalf("decode with 13: h'': %v, want malformed", err)
	}
}

func TestParseTxTime(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	got, err := ParseTxTime([]byte{0x20, 0x24, 0x02, 0x29, 0x23, 0x59, 0x59}, loc)
	if want := time.Date(2024, 2, 29, 23, 59, 59, 0, loc); err != nil || !got.Equal(want) {
		t.Fatalf("ParseTxTime = %v, %v; want %v", got, err, want)
	}
	if _, err := ParseTxTime([]byte{0x20, 0x23, 0x02, 0x29, 0, 0, 0}, loc); err == nil {
		t.Error("29 February 2023 accepted")
	}
}
