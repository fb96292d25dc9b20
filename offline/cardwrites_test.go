package offline_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// limitWrite is a desk's 调整限额 write of card as the device opens it:
// UPDATE BINARY of file 0x12 offset 1, the limit and the daily limit.
func limitWrite(id, card string) offline.CardWriteIntent {
	return offline.CardWriteIntent{WriteID: id, CardNo: card, Field: protocol.FieldTxLimit.String(), Trade: protocol.TradeSetLimit.String(),
		Operator: "desk-op1", Writes: []offline.CardWriteBinary{{SFI: 0x12, Offset: 1, Data: []byte{0, 0, 0x4E, 0x20, 0, 0, 0x75, 0x30}}}}
}

var limitEcho = offline.CardWriteEcho{TxLimit: 20_000}

// cardWriteRecords returns the journal's card-write records.
func cardWriteRecords(t *testing.T, s *offline.Store) []protocol.Record {
	t.Helper()
	return recordsOf(t, s, protocol.KindCardWrite)
}

func recordsOf(t *testing.T, s *offline.Store, k protocol.Kind) []protocol.Record {
	t.Helper()
	h, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.Records(0, int(h.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	var out []protocol.Record
	for _, e := range es {
		if e.Record.Kind == k {
			out = append(out, e.Record)
		}
	}
	return out
}

// TestCardWriteOutcomeNames: the store's outcomes are the protocol's names.
func TestCardWriteOutcomeNames(t *testing.T) {
	if offline.CardWriteWritten != protocol.OutcomeWritten.String() || offline.CardWriteFailed != protocol.OutcomeFailed.String() ||
		offline.CardWriteTornUnknown != protocol.OutcomeTornUnknown.String() {
		t.Fatal("outcome names differ from protocol.WriteOutcome's")
	}
}

// TestCardWriteLifecycle: open (durable: survives a reopen, journals
// nothing) → written (one card-write record with the card, write id,
// field, trade, outcome and operator, in the same commit) → reported →
// forgotten; settling it again the same way is a no-op, another way
// ErrIntentState; the chain verifies throughout.
func TestCardWriteLifecycle(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	in := limitWrite("W-1", "2024000001")
	w, err := s.OpenCardWrite(in)
	if err != nil {
		t.Fatal(err)
	}
	if w.WriteID != "W-1" || w.Outcome != "" || w.Opened.IsZero() || w.Seq != 0 || w.Reported || w.Done() {
		t.Fatalf("opened %+v", w)
	}
	if n := len(cardWriteRecords(t, s)); n != 0 {
		t.Fatalf("%d card-write records after open", n)
	}
	s = reopenStore(t, s, path)
	open, err := s.OpenCardWrites("2024000001")
	if err != nil || len(open) != 1 || open[0].WriteID != "W-1" || !bytes.Equal(open[0].Writes[0].Data, in.Writes[0].Data) ||
		open[0].Writes[0].SFI != 0x12 || open[0].Writes[0].Offset != 1 || open[0].Operator != "desk-op1" || !open[0].Opened.Equal(w.Opened) {
		t.Fatalf("OpenCardWrites after reopen = %+v, %v", open, err)
	}
	if rep, _ := s.CardWritesToReport(); len(rep) != 0 {
		t.Fatalf("an open write to report: %+v", rep)
	}
	if err := s.MarkCardWriteReported("W-1", offline.CardWriteWritten); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("mark an open write reported: %v", err)
	}

	w, err = s.SettleCardWrite("W-1", offline.CardWriteWritten, limitEcho)
	if err != nil {
		t.Fatal(err)
	}
	if w.Outcome != offline.CardWriteWritten || w.Echo != limitEcho || w.Seq == 0 || w.Reported || !w.Done() {
		t.Fatalf("settled %+v", w)
	}
	rs := cardWriteRecords(t, s)
	if len(rs) != 1 {
		t.Fatalf("%d card-write records, want 1", len(rs))
	}
	if r := rs[0]; r.Seq != w.Seq || r.CardNo != "2024000001" || r.Ref != "W-1" || r.Field != "tx-limit" || r.Trade != "set-limit" ||
		r.Reason != "written" || r.Operator != "desk-op1" || r.Amount != 0 {
		t.Fatalf("card-write record %+v", r)
	}
	s = reopenStore(t, s, path)
	if open, _ := s.OpenCardWrites("2024000001"); len(open) != 0 {
		t.Fatalf("a written write still open: %+v", open)
	}
	rep, err := s.CardWritesToReport()
	if err != nil || len(rep) != 1 || rep[0].WriteID != "W-1" || rep[0].Echo != limitEcho || rep[0].Seq != w.Seq {
		t.Fatalf("CardWritesToReport = %+v, %v", rep, err)
	}
	if err := s.ForgetCardWrite("W-1"); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("forget before the report: %v", err)
	}
	again, err := s.SettleCardWrite("W-1", offline.CardWriteWritten, limitEcho)
	if err != nil || again.Seq != w.Seq {
		t.Fatalf("settle the same again = %+v, %v; want the stored one", again, err)
	}
	if _, err := s.SettleCardWrite("W-1", offline.CardWriteFailed, offline.CardWriteEcho{}); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("settle written then failed: %v", err)
	}
	if _, err := s.SettleCardWrite("W-1", offline.CardWriteWritten, offline.CardWriteEcho{TxLimit: 1}); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("settle written with another echo: %v", err)
	}
	if _, err := s.SettleCardWrite("W-1", offline.CardWriteTornUnknown, offline.CardWriteEcho{}); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("settle written then torn: %v", err)
	}
	if n := len(cardWriteRecords(t, s)); n != 1 {
		t.Fatalf("%d card-write records after the repeats, want 1", n)
	}
	if err := s.MarkCardWriteReported("W-1", offline.CardWriteFailed); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("mark reported with another outcome: %v", err)
	}
	if err := s.MarkCardWriteReported("W-1", offline.CardWriteWritten); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkCardWriteReported("W-1", offline.CardWriteWritten); err != nil {
		t.Fatalf("mark reported twice: %v", err)
	}
	s = reopenStore(t, s, path)
	if rep, _ := s.CardWritesToReport(); len(rep) != 0 {
		t.Fatalf("reported still to report: %+v", rep)
	}
	all, err := s.CardWrites()
	if err != nil || len(all) != 1 || !all[0].Reported {
		t.Fatalf("CardWrites = %+v, %v", all, err)
	}
	if err := s.ForgetCardWrite("W-1"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.CardWrites(); len(all) != 0 {
		t.Fatalf("left after forget: %+v", all)
	}
	if _, err := s.SettleCardWrite("W-1", offline.CardWriteWritten, limitEcho); !errors.Is(err, offline.ErrNotFound) {
		t.Fatalf("settle a forgotten write: %v", err)
	}
	if res, err := s.Verify(); err != nil || res.Count == 0 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if _, err := s.VerifyTail(); err != nil {
		t.Fatal(err)
	}
}

// TestCardWriteTorn: a torn write stays open for the card (补写), is
// reported torn, may tear again (journaled again, to report again) and is
// completed later; a report of the torn outcome marked after the write was
// completed does not hide the completion.
func TestCardWriteTorn(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	if _, err := s.OpenCardWrite(limitWrite("W-2", "2024000002")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SettleCardWrite("W-2", offline.CardWriteTornUnknown, limitEcho); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("a torn write with a read-back: %v", err)
	}
	t1, err := s.SettleCardWrite("W-2", offline.CardWriteTornUnknown, offline.CardWriteEcho{})
	if err != nil || t1.Done() || t1.Seq == 0 {
		t.Fatalf("torn = %+v, %v", t1, err)
	}
	s = reopenStore(t, s, path)
	if open, _ := s.OpenCardWrites("2024000002"); len(open) != 1 || open[0].Outcome != offline.CardWriteTornUnknown {
		t.Fatalf("torn write not open for its card: %+v", open)
	}
	if open, _ := s.OpenCardWrites("2024000003"); len(open) != 0 {
		t.Fatalf("another card's writes: %+v", open)
	}
	if rep, _ := s.CardWritesToReport(); len(rep) != 1 || rep[0].Outcome != offline.CardWriteTornUnknown {
		t.Fatalf("torn write not to report: %+v", rep)
	}
	if err := s.MarkCardWriteReported("W-2", offline.CardWriteTornUnknown); err != nil {
		t.Fatal(err)
	}
	t2, err := s.SettleCardWrite("W-2", offline.CardWriteTornUnknown, offline.CardWriteEcho{})
	if err != nil || t2.Seq <= t1.Seq || t2.Reported {
		t.Fatalf("torn again = %+v, %v", t2, err)
	}
	// The report of the second tear is in flight when the card returns and
	// the write completes: marking the tear reported must not hide it.
	w, err := s.SettleCardWrite("W-2", offline.CardWriteWritten, limitEcho)
	if err != nil || w.Seq <= t2.Seq {
		t.Fatalf("completed = %+v, %v", w, err)
	}
	if err := s.MarkCardWriteReported("W-2", offline.CardWriteTornUnknown); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("mark a superseded report: %v", err)
	}
	s = reopenStore(t, s, path)
	if rep, _ := s.CardWritesToReport(); len(rep) != 1 || rep[0].Outcome != offline.CardWriteWritten || rep[0].Seq != w.Seq {
		t.Fatalf("completion not to report: %+v", rep)
	}
	if open, _ := s.OpenCardWrites("2024000002"); len(open) != 0 {
		t.Fatalf("completed write still open: %+v", open)
	}
	rs := cardWriteRecords(t, s)
	if len(rs) != 3 || rs[0].Reason != "torn-unknown" || rs[1].Reason != "torn-unknown" || rs[2].Reason != "written" ||
		rs[0].Seq != t1.Seq || rs[2].Seq != w.Seq {
		t.Fatalf("card-write records %+v", rs)
	}
}

// TestCardWriteOpenIdempotent: the same write opened again is the stored
// intent, in whatever state; another write under the same id is refused;
// bad intents and outcomes are ErrInvalid; open or torn writes the ledger
// no longer lists can be forgotten; the store orders intents as opened.
func TestCardWriteOpenIdempotent(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	first, err := s.OpenCardWrite(limitWrite("W-10", "2024000010"))
	if err != nil {
		t.Fatal(err)
	}
	s = reopenStore(t, s, path)
	same, err := s.OpenCardWrite(limitWrite("W-10", "2024000010"))
	if err != nil || !same.Opened.Equal(first.Opened) || same.Outcome != "" {
		t.Fatalf("open again = %+v, %v", same, err)
	}
	if _, err := s.SettleCardWrite("W-10", offline.CardWriteFailed, offline.CardWriteEcho{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OpenCardWrite(limitWrite("W-10", "2024000010")); err != nil || got.Outcome != offline.CardWriteFailed {
		t.Fatalf("open a failed write again = %+v, %v; want the failed intent", got, err)
	}
	for name, mod := range map[string]func(*offline.CardWriteIntent){
		"other card":     func(w *offline.CardWriteIntent) { w.CardNo = "2024000011" },
		"other field":    func(w *offline.CardWriteIntent) { w.Field = "valid-until" },
		"other operator": func(w *offline.CardWriteIntent) { w.Operator = "" },
		"other data":     func(w *offline.CardWriteIntent) { w.Writes[0].Data = []byte{1} },
		"no commands":    func(w *offline.CardWriteIntent) { w.Writes = nil },
	} {
		in := limitWrite("W-10", "2024000010")
		mod(&in)
		if _, err := s.OpenCardWrite(in); !errors.Is(err, offline.ErrCardWriteConflict) {
			t.Errorf("%s: %v, want ErrCardWriteConflict", name, err)
		}
	}
	for name, mod := range map[string]func(*offline.CardWriteIntent){
		"no id":         func(w *offline.CardWriteIntent) { w.WriteID = "" },
		"id with space": func(w *offline.CardWriteIntent) { w.WriteID = "W 1" },
		"no card":       func(w *offline.CardWriteIntent) { w.CardNo = "" },
		"no field":      func(w *offline.CardWriteIntent) { w.Field = "" },
		"no trade":      func(w *offline.CardWriteIntent) { w.Trade = "" },
		"long operator": func(w *offline.CardWriteIntent) { w.Operator = string(bytes.Repeat([]byte{'o'}, 33)) },
		"SFI 0":         func(w *offline.CardWriteIntent) { w.Writes[0].SFI = 0 },
		"SFI 31":        func(w *offline.CardWriteIntent) { w.Writes[0].SFI = 31 },
		"empty data":    func(w *offline.CardWriteIntent) { w.Writes[0].Data = nil },
		"long data":     func(w *offline.CardWriteIntent) { w.Writes[0].Data = make([]byte, offline.MaxCardWriteData+1) },
		"five commands": func(w *offline.CardWriteIntent) {
			w.Writes = append(w.Writes, w.Writes[0], w.Writes[0], w.Writes[0], w.Writes[0])
		},
		"card too long":  func(w *offline.CardWriteIntent) { w.CardNo = string(bytes.Repeat([]byte{'1'}, 33)) },
		"field too long": func(w *offline.CardWriteIntent) { w.Field = "tx-limit-and-more-than-that" },
	} {
		in := limitWrite("W-20", "2024000020")
		mod(&in)
		if _, err := s.OpenCardWrite(in); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.OpenCardWrite(limitWrite("W-2", "2024000010")); err != nil {
		t.Fatal(err)
	}
	pin := offline.CardWriteIntent{WriteID: "W-3", CardNo: "2024000010", Field: "pin", Trade: "change-pin"}
	if _, err := s.OpenCardWrite(pin); err != nil {
		t.Fatalf("a PIN write (no commands): %v", err)
	}
	open, err := s.OpenCardWrites("2024000010")
	if err != nil || len(open) != 2 || open[0].WriteID != "W-2" || open[1].WriteID != "W-3" || open[1].Writes != nil {
		t.Fatalf("OpenCardWrites = %+v, %v; want W-2, W-3 in the order opened", open, err)
	}
	all, _ := s.CardWrites()
	if len(all) != 3 || all[0].WriteID != "W-10" {
		t.Fatalf("CardWrites = %+v; W-10 first (opened first)", all)
	}
	for _, bad := range []struct {
		outcome string
		echo    offline.CardWriteEcho
	}{
		{"", offline.CardWriteEcho{}},
		{"done", offline.CardWriteEcho{}},
		{offline.CardWriteFailed, limitEcho},
		{offline.CardWriteWritten, offline.CardWriteEcho{TxLimit: -1}},
		{offline.CardWriteWritten, offline.CardWriteEcho{TxLimit: protocol.MaxTxLimit + 1}},
		{offline.CardWriteWritten, offline.CardWriteEcho{StatusVersion: 1 << 32}},
		{offline.CardWriteWritten, offline.CardWriteEcho{ValidUntil: "20270231"}},
	} {
		if _, err := s.SettleCardWrite("W-2", bad.outcome, bad.echo); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("settle %q %+v: %v, want ErrInvalid", bad.outcome, bad.echo, err)
		}
	}
	if _, err := s.SettleCardWrite("W-99", offline.CardWriteWritten, limitEcho); !errors.Is(err, offline.ErrNotFound) {
		t.Fatalf("settle an unknown write: %v", err)
	}
	// The ledger no longer lists W-2 (completed elsewhere): forgotten, no record.
	before := len(cardWriteRecords(t, s))
	if err := s.ForgetCardWrite("W-2"); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.OpenCardWrites("2024000010"); len(open) != 1 || open[0].WriteID != "W-3" {
		t.Fatalf("after forget: %+v", open)
	}
	if n := len(cardWriteRecords(t, s)); n != before {
		t.Fatalf("forget journaled: %d → %d records", before, n)
	}
	if _, err := s.Append(protocol.Record{Kind: protocol.KindCardWrite, CardNo: "1", Ref: "W-1", Field: "pin", Reason: "written"}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("Append of a card-write record: %v, want ErrInvalid (SettleCardWrite writes them)", err)
	}
}

// TestJournalService: a service record is journaled with its trade,
// request id, card or account and operator; other kinds and broken
// records are refused; the chain verifies after a reopen.
func TestJournalService(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	seq, err := s.JournalService(protocol.Record{Kind: protocol.KindService, Trade: protocol.TradeReportLoss.String(),
		Ref: "00112233445566778899aabbccddeeff", Account: "S2024001"})
	if err != nil || seq == 0 {
		t.Fatalf("JournalService = %d, %v", seq, err)
	}
	seq2, err := s.JournalService(protocol.Record{Kind: protocol.KindService, Trade: protocol.TradeUnblock.String(),
		Ref: "ffeeddccbbaa99887766554433221100", CardNo: "2024000001", Operator: "desk-op1", Reason: "wrong-id"})
	if err != nil || seq2 != seq+1 {
		t.Fatalf("JournalService = %d, %v", seq2, err)
	}
	for name, r := range map[string]protocol.Record{
		"another kind":       {Kind: protocol.KindAlarm, Reason: "door-forced"},
		"no trade":           {Kind: protocol.KindService, Ref: "00", CardNo: "1"},
		"no card or account": {Kind: protocol.KindService, Ref: "00", Trade: "unblock"},
		"no ref":             {Kind: protocol.KindService, Trade: "unblock", CardNo: "1"},
	} {
		if _, err := s.JournalService(r); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	s = reopenStore(t, s, path)
	rs := recordsOf(t, s, protocol.KindService)
	if len(rs) != 2 || rs[0].Account != "S2024001" || rs[0].Trade != "report-loss" || rs[1].Operator != "desk-op1" || rs[1].Reason != "wrong-id" {
		t.Fatalf("service records %+v", rs)
	}
	if _, err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestCardWritesManyCards: intents of many cards, each listed for its own
// card only, survive a reopen in the order they were opened.
func TestCardWritesManyCards(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	for i := 1; i <= 30; i++ {
		if _, err := s.OpenCardWrite(limitWrite(fmt.Sprintf("W-%d", i), fmt.Sprintf("C%d", i%3))); err != nil {
			t.Fatal(err)
		}
	}
	s = reopenStore(t, s, path)
	for c := 0; c < 3; c++ {
		open, err := s.OpenCardWrites(fmt.Sprintf("C%d", c))
		if err != nil || len(open) != 10 {
			t.Fatalf("card C%d: %d writes, %v", c, len(open), err)
		}
		for j, w := range open {
			want := fmt.Sprintf("W-%d", 3*j+c)
			if c == 0 {
				want = fmt.Sprintf("W-%d", 3*(j+1))
			}
			if w.WriteID != want || w.CardNo != fmt.Sprintf("C%d", c) {
				t.Fatalf("card C%d write %d = %s, want %s", c, j, w.WriteID, want)
			}
		}
	}
}
