package offline_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

var t0 = time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC)

func TestAppendChainsRecords(t *testing.T) {
	clk := offlinetest.NewClock(t0)
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk})
	kinds := []protocol.Kind{protocol.KindLoad, protocol.KindGatePass, protocol.KindGateDenied, protocol.KindAlarm, protocol.KindConfigApplied}
	for i, k := range kinds {
		clk.Advance(time.Second)
		seq, err := s.Append(protocol.Record{Kind: k, CardNo: "2024000001", Reason: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("seq = %d, want %d", seq, i+1)
		}
	}
	es, err := s.Records(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != len(kinds) {
		t.Fatalf("%d records, want %d", len(es), len(kinds))
	}
	prev := protocol.GenesisHash(offlinetest.DeviceID)
	for i, e := range es {
		if string(e.Record.Prev) != string(prev[:]) {
			t.Fatalf("record %d links to %x, want %x", e.Record.Seq, e.Record.Prev, prev)
		}
		if e.Record.Kind != kinds[i] || e.Record.WallTime() != t0.Add(time.Duration(i+1)*time.Second) {
			t.Fatalf("record %d = %+v", i, e.Record)
		}
		prev = e.Hash
	}
	h, err := s.Head()
	if err != nil || h.Seq != 5 || h.Hash != prev {
		t.Fatalf("Head = %+v, %v", h, err)
	}
	res, err := s.Verify()
	if err != nil || res.Count != 5 || res.First != 1 || res.Head.Seq != 5 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if page, _ := s.Records(2, 2); len(page) != 2 || page[0].Record.Seq != 3 || page[1].Record.Seq != 4 {
		t.Fatalf("Records(2,2) = %v", page)
	}
}

func TestAppendRefusesStoreOwnedKinds(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	for _, k := range []protocol.Kind{protocol.KindPurchaseIntent, protocol.KindPurchaseCompleted,
		protocol.KindPurchaseVoided, protocol.KindPurchaseUncertain, protocol.KindClockChanged, 0, 99} {
		t.Run(k.String(), func(t *testing.T) {
			if _, err := s.Append(protocol.Record{Kind: k}); !errors.Is(err, offline.ErrInvalid) {
				t.Fatalf("Append(%v) = %v, want ErrInvalid", k, err)
			}
		})
	}
	if h, _ := s.Head(); h.Seq != 0 {
		t.Fatalf("refused appends left records: head %d", h.Seq)
	}
}

func TestClockChangesAreJournaled(t *testing.T) {
	tests := []struct {
		name      string
		move      func(c *offlinetest.Clock)
		wantClock bool
		reason    string
	}{
		{"time passes", func(c *offlinetest.Clock) { c.Advance(10 * time.Hour) }, false, ""},
		{"small drift correction", func(c *offlinetest.Clock) { c.Set(c.Now().Add(time.Second)) }, false, ""},
		{"step forward", func(c *offlinetest.Clock) { c.Set(c.Now().Add(time.Hour)) }, true, "step"},
		{"backwards one second", func(c *offlinetest.Clock) { c.Set(c.Now().Add(-time.Second)) }, true, "backwards"},
		{"backwards a year", func(c *offlinetest.Clock) { c.Set(c.Now().AddDate(-1, 0, 0)) }, true, "backwards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := offlinetest.NewClock(t0)
			s, _ := offlinetest.Open(t, offline.Options{Clock: clk, ClockStep: 2 * time.Second})
			if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "a"}); err != nil {
				t.Fatal(err)
			}
			before := clk.Now()
			tt.move(clk)
			seq, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "b"})
			if err != nil {
				t.Fatal(err)
			}
			es, _ := s.Records(0, 10)
			if !tt.wantClock {
				if seq != 2 || len(es) != 2 {
					t.Fatalf("unexpected clock record: %d records", len(es))
				}
				return
			}
			if seq != 3 || len(es) != 3 {
				t.Fatalf("want a clock-changed record before the alarm, got %d records", len(es))
			}
			cr := es[1].Record
			if cr.Kind != protocol.KindClockChanged || cr.Reason != tt.reason ||
				cr.OldTime != before.UnixMilli() || cr.Time != clk.Now().UnixMilli() {
				t.Fatalf("clock record = %+v (old want %d)", cr, before.UnixMilli())
			}
		})
	}
}

func TestClockBackwardsAfterRestart(t *testing.T) {
	clk := offlinetest.NewClock(t0)
	s, path := offlinetest.Open(t, offline.Options{Clock: clk})
	if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "a"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	clk.Set(t0.Add(-time.Minute)) // the RTC lost time over the power cut
	s, err := offline.Open(path, offline.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s)
	if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "b"}); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Records(1, 1)
	if len(es) != 1 || es[0].Record.Kind != protocol.KindClockChanged || es[0].Record.OldTime != t0.UnixMilli() {
		t.Fatalf("after restart with the clock behind: %+v", es)
	}
}
