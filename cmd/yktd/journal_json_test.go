package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// everyKindStore makes a store of epoch 2 holding a record of every kind,
// 1 to 15, each with the fields its kind carries, one second apart from
// 2024-09-01 08:00:01 UTC (the clock set back an hour before the gate
// pass, which writes the clock-changed record). It returns the path and
// the stored entries. In sequence order: store-started, a completed, a
// voided and an uncertain purchase (each intent, then its outcome), a
// load, the clock-changed record, a gate pass, a denial, an alarm, config
// applied, a reversal, a pass not taken, a refused purchase, the device
// revoked.
func everyKindStore(t *testing.T) (string, []offline.Entry) {
	t.Helper()
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "kinds.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "json-test-01", Epoch: 2, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	step := func() { clk.Advance(time.Second) }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tid := []byte{0x00, 0x00, 0x12, 0x34, 0x56, 0x78}
	txTime := []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0x00, 0x00}
	intent := func(card string, amount, before int64, counter uint32) offline.Intent {
		t.Helper()
		step()
		in, err := s.OpenIntent(offline.PurchaseIntent{
			CardNo: card, Amount: amount, BalanceBefore: before, CardCounter: counter,
			TerminalID: tid, TerminalSeq: 1000 + counter, TxTime: txTime,
			CardSerial: []byte{0x10, 0, 0, 0, 0, 0x01, 0x01, byte(counter)},
			KeyIndex:   1, KeyVersion: 2, Algorithm: 4, MAC1: []byte{0x4D, 0x41, 0x43, byte(counter)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	appendRec := func(r protocol.Record) {
		t.Helper()
		step()
		must(s.Append(r))
	}
	appendRec(protocol.Record{Kind: protocol.KindStoreStarted, Version: 2})
	in := intent("2024000101", 350, 5000, 10)
	step()
	must(s.CompleteIntent(in.ID, offline.Completion{BalanceAfter: 4650,
		TAC: []byte{0xA1, 0xB2, 0xC3, 0xD4}, MAC2: []byte{0x11, 0x22, 0x33, 0x44}}))
	in = intent("2024000102", 500, 800, 11)
	step()
	must(s.VoidIntent(in.ID, "insufficient"))
	in = intent("2024000103", 120, 3000, 12)
	step()
	must(s.MarkUncertain(in.ID, "card-removed"))
	appendRec(protocol.Record{Kind: protocol.KindLoad, CardNo: "2024000101", Amount: 10000,
		BalanceBefore: 4650, BalanceAfter: 14650, CardCounter: 3, TerminalID: tid, TerminalSeq: 77,
		TxTime: txTime, TAC: []byte{0xDE, 0xAD, 0xBE, 0xEF}, MAC2: []byte{0x0A, 0x0B, 0x0C, 0x0D}})
	clk.Set(clk.Now().Add(-time.Hour))
	appendRec(protocol.Record{Kind: protocol.KindGatePass, CardNo: "2024000101", Credential: "qr"})
	appendRec(protocol.Record{Kind: protocol.KindGateDenied, CardNo: "2023009999", Credential: "card", Reason: "lost"})
	appendRec(protocol.Record{Kind: protocol.KindAlarm, Reason: "door-held-open"})
	appendRec(protocol.Record{Kind: protocol.KindConfigApplied, Reason: "status-list", Version: 7,
		Digest: bytes.Repeat([]byte{0xAB}, 32)})
	appendRec(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 2, CardNo: "2024000101", Amount: 350, Reason: "cashier"})
	appendRec(protocol.Record{Kind: protocol.KindGatePassNotTaken, CardNo: "2024000101", Credential: "card"})
	appendRec(protocol.Record{Kind: protocol.KindPurchaseRefused, CardNo: "2023001234", Amount: 500, Reason: "frozen",
		BalanceBefore: 800})
	appendRec(protocol.Record{Kind: protocol.KindDeviceRevoked, Reason: "ledger"})
	es, err := s.Records(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, es
}

// TestJournalExportJSONEncodings: every record kind, 1 to 15, exported as
// JSON with each field in its one encoding: times RFC 3339 with the
// offset of the zone named in "zone", hashes, cryptograms, terminal id,
// card serial, digest and the BCD tx_time in lower-case hex, amounts in
// fen, the store's device and epoch on every line. Every key of every
// line is compared: a field in another encoding, or one missing or extra,
// fails.
func TestJournalExportJSONEncodings(t *testing.T) {
	path, es := everyKindStore(t)
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "export", "--db", path, "--format", "json", "--zone", "Asia/Shanghai"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(es) || len(es) != 17 {
		t.Fatalf("%d lines for %d records, want 17", len(lines), len(es))
	}
	purchase := func(card string, amount, before, counter int, mac1, serial string) map[string]any {
		return map[string]any{"card_no": card, "amount": amount, "balance_before": before, "card_counter": counter,
			"terminal_id": "000012345678", "terminal_seq": 1000 + counter, "tx_time": "20240901120000",
			"card_serial": serial, "key_index": 1, "key_version": 2, "algorithm": 4, "mac1": mac1}
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	first := purchase("2024000101", 350, 5000, 10, "4d41430a", "100000000001010a")
	second := purchase("2024000102", 500, 800, 11, "4d41430b", "100000000001010b")
	third := purchase("2024000103", 120, 3000, 12, "4d41430c", "100000000001010c")
	tests := []struct {
		kind   protocol.Kind
		name   string
		time   string
		fields map[string]any
	}{
		{protocol.KindStoreStarted, "store-started", "2024-09-01T16:00:01.000+08:00", map[string]any{"version": 2}},
		{protocol.KindPurchaseIntent, "purchase-intent", "2024-09-01T16:00:02.000+08:00", first},
		{protocol.KindPurchaseCompleted, "purchase-completed", "2024-09-01T16:00:03.000+08:00",
			with(first, "intent_id", 2, "balance_after", 4650, "tac", "a1b2c3d4", "mac2", "11223344")},
		{protocol.KindPurchaseIntent, "purchase-intent", "2024-09-01T16:00:04.000+08:00", second},
		{protocol.KindPurchaseVoided, "purchase-voided", "2024-09-01T16:00:05.000+08:00", with(second, "intent_id", 4, "reason", "insufficient")},
		{protocol.KindPurchaseIntent, "purchase-intent", "2024-09-01T16:00:06.000+08:00", third},
		{protocol.KindPurchaseUncertain, "purchase-uncertain", "2024-09-01T16:00:07.000+08:00", with(third, "intent_id", 6, "reason", "card-removed")},
		{protocol.KindLoad, "load", "2024-09-01T16:00:08.000+08:00", map[string]any{"card_no": "2024000101", "amount": 10000,
			"balance_before": 4650, "balance_after": 14650, "card_counter": 3, "terminal_id": "000012345678", "terminal_seq": 77,
			"tx_time": "20240901120000", "tac": "deadbeef", "mac2": "0a0b0c0d"}},
		{protocol.KindClockChanged, "clock-changed", "2024-09-01T15:00:09.000+08:00",
			map[string]any{"old_time": "2024-09-01T16:00:09.000+08:00", "reason": "backwards"}},
		{protocol.KindGatePass, "gate-pass", "2024-09-01T15:00:09.000+08:00", map[string]any{"card_no": "2024000101", "credential": "qr"}},
		{protocol.KindGateDenied, "gate-denied", "2024-09-01T15:00:10.000+08:00", map[string]any{"card_no": "2023009999", "credential": "card", "reason": "lost"}},
		{protocol.KindAlarm, "alarm", "2024-09-01T15:00:11.000+08:00", map[string]any{"reason": "door-held-open"}},
		{protocol.KindConfigApplied, "config-applied", "2024-09-01T15:00:12.000+08:00",
			map[string]any{"reason": "status-list", "version": 7, "digest": strings.Repeat("ab", 32)}},
		{protocol.KindPurchaseReversed, "purchase-reversed", "2024-09-01T15:00:13.000+08:00",
			map[string]any{"intent_id": 2, "card_no": "2024000101", "amount": 350, "reason": "cashier"}},
		{protocol.KindGatePassNotTaken, "gate-pass-not-taken", "2024-09-01T15:00:14.000+08:00", map[string]any{"card_no": "2024000101", "credential": "card"}},
		{protocol.KindPurchaseRefused, "purchase-refused", "2024-09-01T15:00:15.000+08:00",
			map[string]any{"card_no": "2023001234", "amount": 500, "reason": "frozen", "balance_before": 800}},
		{protocol.KindDeviceRevoked, "device-revoked", "2024-09-01T15:00:16.000+08:00", map[string]any{"reason": "ledger"}},
	}
	seen := map[protocol.Kind]bool{}
	for i, tt := range tests {
		seen[tt.kind] = true
		t.Run(tt.name, func(t *testing.T) {
			want := with(tt.fields, "device", "json-test-01", "epoch", 2, "seq", i+1, "time", tt.time, "zone", "Asia/Shanghai",
				"kind", int(tt.kind), "kind_name", tt.name,
				"hash", hex.EncodeToString(es[i].Hash[:]), "prev", hex.EncodeToString(es[i].Record.Prev))
			if es[i].Record.Kind != tt.kind {
				t.Fatalf("record %d is %v, the table says %v", i+1, es[i].Record.Kind, tt.kind)
			}
			if !reflect.DeepEqual(jsonObject(t, lines[i]), jsonRoundTrip(t, want)) {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], mustJSON(t, want))
			}
		})
	}
	for k := protocol.KindPurchaseIntent; k <= protocol.KindStoreStarted; k++ {
		if !seen[k] {
			t.Errorf("kind %v not in the table", k)
		}
	}
	// The first record links to the epoch's genesis.
	if g := protocol.EpochGenesis("json-test-01", 2); !bytes.Equal(es[0].Record.Prev, g[:]) {
		t.Errorf("first record links to %x, not epoch 2's genesis", es[0].Record.Prev)
	}
}

// TestJournalTailAgreesWithExport: tail names the zone and the epoch in
// its header, and writes each record's time and hex fields as the JSON
// export does, under the same names; a purchase intent shows the balance
// before and the amount, a completion the balance before and after.
func TestJournalTailAgreesWithExport(t *testing.T) {
	path, es := everyKindStore(t)
	var js, tail, errb bytes.Buffer
	if code := run([]string{"journal", "export", "--db", path, "--format", "json", "--zone", "UTC"}, &js, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"journal", "tail", "--db", path, "-n", "100", "--zone", "UTC"}, &tail, &errb); code != 0 {
		t.Fatalf("tail: exit %d: %s", code, errb.String())
	}
	tl := strings.Split(strings.TrimSpace(tail.String()), "\n")
	jl := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(tl) != len(es)+1 || len(jl) != len(es) {
		t.Fatalf("tail %d lines, export %d, for %d records (tail has one header)", len(tl), len(jl), len(es))
	}
	if h := tl[0]; !strings.HasPrefix(h, "#") || !strings.Contains(h, "json-test-01") || !strings.Contains(h, "epoch 2") ||
		!strings.Contains(h, "UTC") {
		t.Errorf("tail header %q does not name the device, the epoch and the zone", h)
	}
	for i, line := range tl[1:] {
		obj := jsonObject(t, jl[i])
		if obj["zone"] != "UTC" || !strings.HasSuffix(obj["time"].(string), "Z") {
			t.Errorf("export line %d: time %v zone %v, want UTC", i+1, obj["time"], obj["zone"])
		}
		want := []string{obj["time"].(string), obj["kind_name"].(string)}
		for _, k := range []string{"terminal_id", "tx_time", "card_serial", "tac", "mac1", "mac2", "digest", "old_time", "card_no", "reason", "credential"} {
			if v, ok := obj[k]; ok {
				want = append(want, k+"="+v.(string))
			}
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("tail line %d %q lacks %q (export: %s)", i+1, line, w, jl[i])
			}
		}
	}
	intent, completed, refused := tl[2], tl[3], tl[16]
	for _, c := range []struct{ line, want, not string }{
		{intent, "amount=3.50 balance_before=50.00", "→"},
		{completed, "amount=3.50 balance=50.00→46.50", "balance_before"},
		{refused, "amount=5.00 balance_before=8.00", "→"},
	} {
		if !strings.Contains(c.line, c.want) || strings.Contains(c.line, c.not) {
			t.Errorf("tail line %q: want %q and no %q", c.line, c.want, c.not)
		}
	}
}

// TestJournalZone: the tools default to the device zone, Asia/Shanghai;
// an unknown zone is a usage error.
func TestJournalZone(t *testing.T) {
	path, _ := everyKindStore(t)
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "tail", "--db", path, "-n", "1"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "Asia/Shanghai") || !strings.Contains(out.String(), "2024-09-01T15:00:16.000+08:00") {
		t.Errorf("tail without --zone:\n%s", out.String())
	}
	for _, cmd := range [][]string{{"journal", "tail"}, {"journal", "export"}, {"journal", "intents"}, {"status", "lookup"}} {
		out.Reset()
		errb.Reset()
		args := append(append(cmd, "--db", path, "--zone", "Mars/Olympus"), "2024000101")
		if cmd[1] != "lookup" {
			args = args[:len(args)-1]
		}
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Mars/Olympus") {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming the zone", args, code, errb.String())
		}
	}
}

func jsonObject(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return m
}

func jsonRoundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	return jsonObject(t, mustJSON(t, v))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
