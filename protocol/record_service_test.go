package protocol

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// testCardWriteRecord is a desk's card-write record of a written limit.
func testCardWriteRecord() Record {
	g := GenesisHash("dev-1")
	return Record{Seq: 3, Time: 1_700_000_000_000, Kind: KindCardWrite, Prev: g[:], CardNo: "2024000123",
		Ref: "W-12", Field: FieldTxLimit.String(), Trade: TradeSetLimit.String(), Reason: OutcomeWritten.String(), Operator: "desk-op1"}
}

// testServiceRecord is a kiosk's service record of a loss report (no card).
func testServiceRecord() Record {
	g := GenesisHash("dev-1")
	return Record{Seq: 4, Time: 1_700_000_000_000, Kind: KindService, Prev: g[:], Account: "S2024001",
		Trade: TradeReportLoss.String(), Ref: "00112233445566778899aabbccddeeff"}
}

// TestServiceRecordVectors pins the card-write and service records (keys
// 26..30 after the purchase fields) and their names.
func TestServiceRecordVectors(t *testing.T) {
	if KindCardWrite != 18 || KindService != 19 || KindCardWrite.String() != "card-write" || KindService.String() != "service" || Kind(20).Valid() {
		t.Fatalf("kinds: %d %q, %d %q", KindCardWrite, KindCardWrite, KindService, KindService)
	}
	for _, tt := range []struct {
		r    Record
		want string
	}{
		{testCardWriteRecord(), "aa" + "0103" + "021b0000018bcfe56800" + "0312" +
			"045820704886b6f84bdc2d79af2226b18466fe3520d7581d24f362cae794ff19da0baa" +
			"066a32303234303030313233" + "0f67" + hex.EncodeToString([]byte("written")) +
			"181a64" + hex.EncodeToString([]byte("W-12")) + "181b68" + hex.EncodeToString([]byte("desk-op1")) +
			"181c68" + hex.EncodeToString([]byte("tx-limit")) + "181d69" + hex.EncodeToString([]byte("set-limit"))},
		{testServiceRecord(), "a7" + "0104" + "021b0000018bcfe56800" + "0313" +
			"045820704886b6f84bdc2d79af2226b18466fe3520d7581d24f362cae794ff19da0baa" +
			"181a7820" + hex.EncodeToString([]byte("00112233445566778899aabbccddeeff")) +
			"181d6b" + hex.EncodeToString([]byte("report-loss")) + "181e68" + hex.EncodeToString([]byte("S2024001"))},
	} {
		b, err := EncodeRecord(&tt.r)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != tt.want {
			t.Fatalf("%v: encoding = %s\nwant         %s", tt.r.Kind, got, tt.want)
		}
		got, err := DecodeRecord(b)
		if err != nil || got.Ref != tt.r.Ref || got.Operator != tt.r.Operator || got.Field != tt.r.Field ||
			got.Trade != tt.r.Trade || got.Account != tt.r.Account || got.Reason != tt.r.Reason {
			t.Fatalf("%v: decoded %+v, %v", tt.r.Kind, got, err)
		}
	}
}

// TestServiceRecordRefuses: the new fields only on their kinds, each a
// bounded name, and each kind with what it must name.
func TestServiceRecordRefuses(t *testing.T) {
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name string
		base func() Record
		mod  func(*Record)
	}{
		{"ref on an alarm", testCardWriteRecord, func(r *Record) { r.Kind = KindAlarm }},
		{"operator on a purchase", func() Record { return testRecord() }, func(r *Record) { r.Operator = "op" }},
		{"account on a gate pass", func() Record { return testRecord() }, func(r *Record) { r.Kind, r.Account = KindGatePass, "S1" }},
		{"card write without ref", testCardWriteRecord, func(r *Record) { r.Ref = "" }},
		{"card write without card", testCardWriteRecord, func(r *Record) { r.CardNo = "" }},
		{"card write with account", testCardWriteRecord, func(r *Record) { r.Account = "S1" }},
		{"card write without field", testCardWriteRecord, func(r *Record) { r.Field = "" }},
		{"card write without outcome", testCardWriteRecord, func(r *Record) { r.Reason = "" }},
		{"card write outcome with a space", testCardWriteRecord, func(r *Record) { r.Reason = "torn unknown" }},
		{"long ref", testCardWriteRecord, func(r *Record) { r.Ref = long(MaxKeyIDLen + 1) }},
		{"long operator", testCardWriteRecord, func(r *Record) { r.Operator = long(MaxOperatorLen + 1) }},
		{"long field", testCardWriteRecord, func(r *Record) { r.Field = long(MaxRecordNameLen + 1) }},
		{"operator with a newline", testCardWriteRecord, func(r *Record) { r.Operator = "op\n1" }},
		{"card with a space", testCardWriteRecord, func(r *Record) { r.CardNo = "2024 1" }},
		{"service without trade", testServiceRecord, func(r *Record) { r.Trade = "" }},
		{"service without card or account", testServiceRecord, func(r *Record) { r.Account = "" }},
		{"service with a field", testServiceRecord, func(r *Record) { r.Field = "pin" }},
		{"service without ref", testServiceRecord, func(r *Record) { r.Ref = "" }},
		{"long account", testServiceRecord, func(r *Record) { r.Account = long(MaxAccountIDLen + 1) }},
		{"long trade", testServiceRecord, func(r *Record) { r.Trade = long(MaxRecordNameLen + 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.base()
			tt.mod(&r)
			if _, err := EncodeRecord(&r); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("EncodeRecord = %v, want ErrInvalidRecord", err)
			}
		})
	}
	// A service record with both card and account, and a refusal reason, is fine.
	r := testServiceRecord()
	r.CardNo, r.Reason, r.Operator = "2024000123", "wrong-pin", "desk-op1"
	if _, err := EncodeRecord(&r); err != nil {
		t.Fatal(err)
	}
	// A record decoded from bytes is held to the same rules: a ref on an alarm.
	bad := "a5" + "0101" + "021903e8" + "0308" + "045820" + hex.EncodeToString(make([]byte, 32)) + "181a6157"
	b, _ := hex.DecodeString(bad)
	if _, err := DecodeRecord(b); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("DecodeRecord(ref on an alarm) = %v", err)
	}
}

// TestRecordFuzzSeeds checks the FuzzDecodeRecord seeds of the card-write
// and service records; with -update it writes them.
func TestRecordFuzzSeeds(t *testing.T) {
	seeds := map[string]Record{"card-write": testCardWriteRecord(), "service": testServiceRecord()}
	torn := testCardWriteRecord()
	torn.Reason, torn.Operator = OutcomeTornUnknown.String(), ""
	seeds["card-write-torn"] = torn
	for name, r := range seeds {
		b, err := EncodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "fuzz", "FuzzDecodeRecord", name)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if *update {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != body {
			t.Errorf("%s: seed missing or stale (run go test -run TestRecordFuzzSeeds -update): %v", path, err)
		}
	}
}
