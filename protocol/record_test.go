package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func testRecord() Record {
	g := GenesisHash("dev-1")
	return Record{
		Seq: 1, Time: 1_700_000_000_000, Kind: KindPurchaseCompleted, Prev: g[:],
		IntentID: 1, CardNo: "2024000123", Amount: 1250, BalanceBefore: 5000, BalanceAfter: 3750,
		CardCounter: 7, TerminalSeq: 42, TerminalID: []byte{0, 0, 0, 0, 0, 1},
		TAC: []byte{1, 2, 3, 4}, MAC2: []byte{5, 6, 7, 8},
		TxTime: []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0x30, 0x05}, CardSerial: []byte{0x10, 0, 0, 0, 0, 0, 0x01, 0x23},
		KeyIndex: 1, KeyVersion: 2, Algorithm: 4, MAC1: []byte{9, 10, 11, 12},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for k := KindPurchaseIntent; k <= kindMax; k++ {
		t.Run(k.String(), func(t *testing.T) {
			r := testRecord()
			r.Kind = k
			switch k {
			case KindCardWrite:
				r.Ref, r.Field, r.Trade, r.Reason, r.Operator = "W-7", "tx-limit", "set-limit", "written", "op-3"
			case KindService:
				r.Ref, r.Trade, r.Operator, r.Account = "00112233445566778899aabbccddeeff", "unblock", "op-3", "S2024001"
			}
			b, err := EncodeRecord(&r)
			if err != nil {
				t.Fatal(err)
			}
			b2, _ := EncodeRecord(&r)
			if !bytes.Equal(b, b2) {
				t.Fatal("encoding is not deterministic")
			}
			got, err := DecodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			b3, _ := EncodeRecord(&got)
			if !bytes.Equal(b, b3) || RecordHash(b) != RecordHash(b3) {
				t.Fatal("decode/encode changed the bytes")
			}
		})
	}
}

// TestRecordVector pins the wire encoding: a change here breaks every
// journal and every ledger.
func TestRecordVector(t *testing.T) {
	r := Record{Seq: 1, Time: 1000, Kind: KindAlarm, Prev: make([]byte, 32), Reason: "door-forced"}
	b, err := EncodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	const want = "a50101021903e803080458200000000000000000000000000000000000000000000000000000000000000000" +
		"0f6b646f6f722d666f72636564"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoding = %s\nwant       %s", got, want)
	}
}

// TestPurchaseRecordVector pins a purchase-completed record with every
// purchase field, the new ones (keys 20..25) included.
func TestPurchaseRecordVector(t *testing.T) {
	r := testRecord()
	b, err := EncodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	const want = "b4" + "0101" + "021b0000018bcfe56800" + "0302" +
		"045820704886b6f84bdc2d79af2226b18466fe3520d7581d24f362cae794ff19da0baa" +
		"0501" + "066a32303234303030313233" + "071904e2" + "08191388" + "09190ea6" + "0a07" + "0b182a" +
		"0c46000000000001" + "0d4401020304" + "0e4405060708" +
		"1447202409011230" + "05" + "15481000000000000123" + "1601" + "1702" + "1818" + "04" + "1819" + "44090a0b0c"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoding = %s\nwant       %s", got, want)
	}
	got, err := DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.TxTime) != string(r.TxTime) || string(got.CardSerial) != string(r.CardSerial) ||
		got.KeyIndex != 1 || got.KeyVersion != 2 || got.Algorithm != 4 || string(got.MAC1) != string(r.MAC1) {
		t.Fatalf("decoded = %+v", got)
	}
}

func TestDecodeRecordRefuses(t *testing.T) {
	good, _ := EncodeRecord(&Record{Seq: 1, Time: 1000, Kind: KindAlarm, Prev: make([]byte, 32)})
	zero32 := "5820" + hex.EncodeToString(make([]byte, 32))
	tests := []struct {
		name    string
		hex     string
		wantErr error
	}{
		{"empty", "", ErrInvalidRecord},
		{"not a map", "01", ErrInvalidRecord},
		{"duplicate key", "a501010101021903e80308" + "04" + zero32, ErrInvalidRecord},
		{"indefinite map", "bf01010219" + "03e8030804" + zero32 + "ff", ErrInvalidRecord},
		{"unknown field", "a5010102" + "1903e80308" + "04" + zero32 + "1863" + "01", ErrInvalidRecord},
		{"tag", "a401c1010219" + "03e8030804" + zero32, ErrInvalidRecord},
		{"trailing bytes", hex.EncodeToString(good) + "00", ErrInvalidRecord},
		{"unsorted keys", "a4021903e8010103080458" + "20" + hex.EncodeToString(make([]byte, 32)), ErrNonCanonical},
		{"non-minimal int", "a4011801021903e80308" + "04" + zero32, ErrNonCanonical},
		{"explicit zero field", "a501010219" + "03e80308" + "04" + zero32 + "0700", ErrNonCanonical},
		{"unknown kind", "a401010219" + "03e8031863" + "04" + zero32, ErrInvalidRecord},
		{"short prev", "a401010219" + "03e803080441" + "00", ErrInvalidRecord},
		{"seq zero", "a401000219" + "03e8030804" + zero32, ErrInvalidRecord},
		{"negative amount", "a501010219" + "03e8030804" + zero32 + "0720", ErrInvalidRecord},
		{"bad tac", "a501010219" + "03e8030804" + zero32 + "0d4101", ErrInvalidRecord},
		{"short tx time", "a501010219" + "03e8030804" + zero32 + "14" + "46202409011230", ErrInvalidRecord},
		{"long card serial", "a501010219" + "03e8030804" + zero32 + "15" + "49000000000000000000", ErrInvalidRecord},
		{"empty mac1", "a501010219" + "03e8030804" + zero32 + "1819" + "40", ErrInvalidRecord},
		{"key index not a byte", "a501010219" + "03e8030804" + zero32 + "16" + "190100", ErrInvalidRecord},
		{"unknown field after the purchase fields", "a501010219" + "03e8030804" + zero32 + "181a" + "01", ErrInvalidRecord},
		{"oversized", hex.EncodeToString(make([]byte, MaxRecordSize+1)), ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeRecord(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("DecodeRecord = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEncodeRecordRefusesInvalid(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Record)
	}{
		{"kind zero", func(r *Record) { r.Kind = 0 }},
		{"seq zero", func(r *Record) { r.Seq = 0 }},
		{"no prev", func(r *Record) { r.Prev = nil }},
		{"negative balance", func(r *Record) { r.BalanceAfter = -1 }},
		{"terminal id size", func(r *Record) { r.TerminalID = []byte{1} }},
		{"mac2 size", func(r *Record) { r.MAC2 = []byte{1, 2, 3} }},
		{"mac1 size", func(r *Record) { r.MAC1 = []byte{1, 2, 3, 4, 5} }},
		{"tx time size", func(r *Record) { r.TxTime = []byte{0x20, 0x24} }},
		{"card serial size", func(r *Record) { r.CardSerial = []byte{} }},
		{"long card number", func(r *Record) { r.CardNo = string(make([]byte, 33)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRecord()
			tt.mod(&r)
			if _, err := EncodeRecord(&r); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("EncodeRecord = %v, want ErrInvalidRecord", err)
			}
		})
	}
}

func TestGenesisHash(t *testing.T) {
	// SHA-256("yktd-journal-v1dev-1")
	const want = "704886b6f84bdc2d79af2226b18466fe3520d7581d24f362cae794ff19da0baa"
	g := GenesisHash("dev-1")
	if got := hex.EncodeToString(g[:]); got != want {
		t.Fatalf("GenesisHash = %s, want %s", got, want)
	}
	if g == GenesisHash("dev-2") {
		t.Fatal("genesis does not depend on the device id")
	}
}

func TestKindString(t *testing.T) {
	if KindClockChanged.String() != "clock-changed" || Kind(99).String() != "kind(99)" {
		t.Fatalf("got %q, %q", KindClockChanged.String(), Kind(99).String())
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := testRecord()
	b, _ := EncodeRecord(&r)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			return
		}
		// Anything accepted is canonical: it re-encodes to the same bytes.
		again, err := EncodeRecord(&r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical input %x (re-encodes to %x)", data, again)
		}
	})
}

// TestEpochGenesis: epoch 0 is the first store's genesis (the pinned
// value every existing journal links to); later epochs differ from it and
// from each other, and from another device's.
func TestEpochGenesis(t *testing.T) {
	const id = "pos-canteen1-07"
	if EpochGenesis(id, 0) != GenesisHash(id) {
		t.Fatal("epoch 0 is not the plain genesis")
	}
	seen := map[[HashSize]byte]string{}
	for _, c := range []struct {
		id string
		e  uint64
	}{{id, 0}, {id, 1}, {id, 2}, {id, 1 << 40}, {"pos-canteen1-08", 1}, {id + "1", 0}} {
		g := EpochGenesis(c.id, c.e)
		if prev, dup := seen[g]; dup {
			t.Fatalf("%s epoch %d has the genesis of %s", c.id, c.e, prev)
		}
		seen[g] = c.id
	}
	// Pinned: SHA-256("yktd-journal-v1" ‖ id ‖ 00 ‖ be64(1)).
	const want = "pos-canteen1-07 epoch 1"
	g := EpochGenesis(id, 1)
	h := sha256.Sum256(append([]byte("yktd-journal-v1"+id), 0, 0, 0, 0, 0, 0, 0, 0, 1))
	if g != h {
		t.Fatalf("%s: %x, want %x", want, g, h)
	}
}
