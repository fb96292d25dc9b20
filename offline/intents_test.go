package offline_test

import (
	"errors"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

var (
	tid    = []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06}
	txTime = []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0x30, 0x05} // 2024-09-01 12:30:05, BCD
	serial = []byte{0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23}
	mac1   = []byte{0xA1, 0xA2, 0xA3, 0xA4}
)

func purchase(card string, amount int64) offline.PurchaseIntent {
	return offline.PurchaseIntent{
		CardNo: card, Amount: amount, BalanceBefore: 10_000, CardCounter: 7, TerminalID: tid, TerminalSeq: 99,
		TxTime: txTime, CardSerial: serial, KeyIndex: 1, KeyVersion: 2, Algorithm: 4, MAC1: mac1,
	}
}

// hasRecoveryFields reports whether r carries every field of purchase().
func hasRecoveryFields(r protocol.Record) bool {
	return string(r.TerminalID) == string(tid) && r.TerminalSeq == 99 && string(r.TxTime) == string(txTime) &&
		string(r.CardSerial) == string(serial) && r.KeyIndex == 1 && r.KeyVersion == 2 && r.Algorithm == 4 &&
		string(r.MAC1) == string(mac1) && r.BalanceBefore == 10_000 && r.CardCounter == 7
}

var done = offline.Completion{BalanceAfter: 8_750, TAC: []byte{1, 2, 3, 4}, MAC2: []byte{5, 6, 7, 8}}

func TestIntentLifecycle(t *testing.T) {
	tests := []struct {
		name      string
		resolve   func(s *offline.Store, id uint64) (uint64, error)
		wantKinds []protocol.Kind
		wantLeft  []offline.IntentState
	}{
		{"completed", func(s *offline.Store, id uint64) (uint64, error) { return s.CompleteIntent(id, done) },
			[]protocol.Kind{protocol.KindPurchaseIntent, protocol.KindPurchaseCompleted}, nil},
		{"voided", func(s *offline.Store, id uint64) (uint64, error) { return s.VoidIntent(id, "card-declined") },
			[]protocol.Kind{protocol.KindPurchaseIntent, protocol.KindPurchaseVoided}, nil},
		{"uncertain", func(s *offline.Store, id uint64) (uint64, error) { return s.MarkUncertain(id, "card-removed") },
			[]protocol.Kind{protocol.KindPurchaseIntent, protocol.KindPurchaseUncertain}, []offline.IntentState{offline.IntentUncertain}},
		{"uncertain then completed", func(s *offline.Store, id uint64) (uint64, error) {
			if _, err := s.MarkUncertain(id, "card-removed"); err != nil {
				return 0, err
			}
			return s.CompleteIntent(id, done)
		}, []protocol.Kind{protocol.KindPurchaseIntent, protocol.KindPurchaseUncertain, protocol.KindPurchaseCompleted}, nil},
		{"uncertain then voided", func(s *offline.Store, id uint64) (uint64, error) {
			if _, err := s.MarkUncertain(id, "card-removed"); err != nil {
				return 0, err
			}
			return s.VoidIntent(id, "counter-unchanged")
		}, []protocol.Kind{protocol.KindPurchaseIntent, protocol.KindPurchaseUncertain, protocol.KindPurchaseVoided}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := offlinetest.Open(t, offline.Options{})
			in, err := s.OpenIntent(purchase("2024000001", 1250))
			if err != nil {
				t.Fatal(err)
			}
			if in.ID != 1 || in.State != offline.IntentOpen {
				t.Fatalf("intent = %+v", in)
			}
			seq, err := tt.resolve(s, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			if seq != uint64(len(tt.wantKinds)) {
				t.Fatalf("resolution seq = %d, want %d", seq, len(tt.wantKinds))
			}
			es, _ := s.Records(0, 10)
			if len(es) != len(tt.wantKinds) {
				t.Fatalf("%d records, want %d", len(es), len(tt.wantKinds))
			}
			for i, e := range es {
				r := e.Record
				if r.Kind != tt.wantKinds[i] || r.CardNo != "2024000001" || r.Amount != 1250 || r.CardCounter != 7 || r.TerminalSeq != 99 {
					t.Fatalf("record %d = %+v", i, r)
				}
				// Every record of the purchase is self-contained: the
				// ledger checks the TAC without joining on the intent.
				if !hasRecoveryFields(r) {
					t.Fatalf("record %d lacks purchase fields: %+v", i, r)
				}
				if i > 0 && r.IntentID != in.ID {
					t.Fatalf("record %d intent id %d, want %d", i, r.IntentID, in.ID)
				}
				if r.Kind == protocol.KindPurchaseCompleted && (r.BalanceAfter != 8_750 || string(r.TAC) != "\x01\x02\x03\x04" || string(r.MAC2) != "\x05\x06\x07\x08") {
					t.Fatalf("completion = %+v", r)
				}
			}
			left, _ := s.Intents()
			if len(left) != len(tt.wantLeft) {
				t.Fatalf("intents left = %+v, want states %v", left, tt.wantLeft)
			}
			for i, st := range tt.wantLeft {
				if left[i].State != st || left[i].ID != in.ID || left[i].CardNo != "2024000001" {
					t.Fatalf("intent left = %+v", left[i])
				}
			}
		})
	}
}

func TestIntentErrors(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	in, err := s.OpenIntent(purchase("c1", 100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VoidIntent(in.ID, "x"); err != nil {
		t.Fatal(err)
	}
	open2, _ := s.OpenIntent(purchase("c2", 100))
	unc, _ := s.OpenIntent(purchase("c3", 100))
	if _, err := s.MarkUncertain(unc.ID, "torn"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		op      func() error
		wantErr error
	}{
		{"open without card", func() error { _, err := s.OpenIntent(purchase("", 100)); return err }, offline.ErrInvalid},
		{"open zero amount", func() error { _, err := s.OpenIntent(purchase("c1", 0)); return err }, offline.ErrInvalid},
		{"open bad terminal id", func() error {
			p := purchase("c1", 1)
			p.TerminalID = []byte{1}
			_, err := s.OpenIntent(p)
			return err
		}, offline.ErrInvalid},
		{"open without tx time", func() error {
			p := purchase("c1", 1)
			p.TxTime = nil
			_, err := s.OpenIntent(p)
			return err
		}, offline.ErrInvalid},
		{"open short card serial", func() error {
			p := purchase("c1", 1)
			p.CardSerial = serial[:7]
			_, err := s.OpenIntent(p)
			return err
		}, offline.ErrInvalid},
		{"open without mac1", func() error {
			p := purchase("c1", 1)
			p.MAC1 = nil
			_, err := s.OpenIntent(p)
			return err
		}, offline.ErrInvalid},
		{"open without terminal id", func() error {
			p := purchase("c1", 1)
			p.TerminalID = nil
			_, err := s.OpenIntent(p)
			return err
		}, offline.ErrInvalid},
		{"complete resolved", func() error { _, err := s.CompleteIntent(in.ID, done); return err }, offline.ErrNotFound},
		{"void resolved", func() error { _, err := s.VoidIntent(in.ID, "x"); return err }, offline.ErrNotFound},
		{"uncertain unknown", func() error { _, err := s.MarkUncertain(999, "x"); return err }, offline.ErrNotFound},
		{"uncertain twice", func() error { _, err := s.MarkUncertain(unc.ID, "x"); return err }, offline.ErrIntentState},
		{"complete without TAC", func() error {
			_, err := s.CompleteIntent(open2.ID, offline.Completion{BalanceAfter: 1, MAC2: done.MAC2})
			return err
		}, offline.ErrInvalid},
		{"find uncertain of open card", func() error { _, err := s.FindUncertain("c2"); return err }, offline.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.Head()
			if err := tt.op(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if after, _ := s.Head(); after.Seq != before.Seq {
				t.Fatalf("a refused operation journaled %d records", after.Seq-before.Seq)
			}
		})
	}
	got, err := s.FindUncertain("c3")
	if err != nil || got.ID != unc.ID || got.State != offline.IntentUncertain {
		t.Fatalf("FindUncertain(c3) = %+v, %v", got, err)
	}
}

func TestIntentsSurviveRestart(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	a, _ := s.OpenIntent(purchase("c1", 100))
	b, _ := s.OpenIntent(purchase("c2", 200))
	if _, err := s.MarkUncertain(b.ID, "torn"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s2)
	ins, err := s2.Intents()
	if err != nil || len(ins) != 2 {
		t.Fatalf("Intents = %+v, %v", ins, err)
	}
	if ins[0].ID != a.ID || ins[0].State != offline.IntentOpen || ins[1].ID != b.ID || ins[1].State != offline.IntentUncertain ||
		ins[1].Amount != 200 || string(ins[1].TerminalID) != string(tid) {
		t.Fatalf("Intents after restart = %+v", ins)
	}
	// What recovery needs comes back exactly, from Intents and FindUncertain.
	want := purchase("c2", 200)
	got, err := s2.FindUncertain("c2")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []offline.PurchaseIntent{ins[1].PurchaseIntent, got.PurchaseIntent} {
		if string(p.TxTime) != string(want.TxTime) || string(p.CardSerial) != string(want.CardSerial) ||
			string(p.MAC1) != string(want.MAC1) || p.KeyIndex != 1 || p.KeyVersion != 2 || p.Algorithm != 4 ||
			p.TerminalSeq != 99 || p.CardCounter != 7 || p.BalanceBefore != 10_000 || !p.Recoverable() {
			t.Fatalf("recovered intent = %+v, want %+v", p, want)
		}
	}
}

// TestCompleteByLog: a debit the card's log proves is completed without a
// TAC, with the reason card-log; a completion by the log that carries a
// TAC, or one by TAC without it, is refused and the intent stays.
func TestCompleteByLog(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	in, err := s.OpenIntent(purchase("2024000001", 1250))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []offline.Completion{
		{BalanceAfter: 8750, ByLog: true, TAC: []byte{1, 2, 3, 4}},
		{BalanceAfter: 8750, ByLog: true, MAC2: []byte{1, 2, 3, 4}},
		{BalanceAfter: 8750},
		{BalanceAfter: -1, ByLog: true},
	} {
		if _, err := s.CompleteIntent(in.ID, bad); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("CompleteIntent(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	seq, err := s.CompleteIntent(in.ID, offline.Completion{BalanceAfter: 8750, ByLog: true})
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.Records(seq-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := es[0].Record
	if r.Kind != protocol.KindPurchaseCompleted || r.Reason != offline.ReasonCardLog || r.TAC != nil || r.MAC2 != nil || r.BalanceAfter != 8750 || r.IntentID != in.ID {
		t.Fatalf("completion record %+v", r)
	}
	if ins, _ := s.Intents(); len(ins) != 0 {
		t.Fatalf("intents left %+v", ins)
	}
}
