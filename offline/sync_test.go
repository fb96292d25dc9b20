package offline_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

func appendN(t *testing.T, s *offline.Store, clk *offlinetest.Clock, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		clk.Advance(time.Minute)
		if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSyncCursorAndBatches(t *testing.T) {
	clk := offlinetest.NewClock(t0)
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk})
	appendN(t, s, clk, 7)
	cur, err := s.SyncCursor()
	if err != nil || cur.Seq != 0 || cur.Hash != s.Genesis() {
		t.Fatalf("initial cursor = %+v, %v", cur, err)
	}
	batch, _ := s.Unacked(3)
	if len(batch) != 3 || batch[0].Record.Seq != 1 || batch[2].Record.Seq != 3 {
		t.Fatalf("first batch = %v", batch)
	}
	if err := s.Ack(3, batch[2].Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(3, batch[2].Hash); err != nil {
		t.Fatalf("repeated ack (a duplicate answer from the ledger): %v", err)
	}
	batch2, _ := s.Unacked(100)
	if len(batch2) != 4 || batch2[0].Record.Seq != 4 {
		t.Fatalf("second batch = %v", batch2)
	}
	tests := []struct {
		name string
		seq  uint64
		hash [32]byte
	}{
		{"beyond head", 8, batch2[3].Hash},
		{"wrong hash", 5, batch2[0].Hash},
		{"behind cursor", 2, batch[1].Hash},
		{"zero", 0, s.Genesis()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Ack(tt.seq, tt.hash); !errors.Is(err, offline.ErrBadAck) {
				t.Fatalf("Ack = %v, want ErrBadAck", err)
			}
			if c, _ := s.SyncCursor(); c.Seq != 3 || c.Hash != batch[2].Hash {
				t.Fatalf("cursor moved to %+v", c)
			}
		})
	}
}

func TestPurgeOnlyAcknowledgedAndOld(t *testing.T) {
	clk := offlinetest.NewClock(t0)
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk, Retention: 24 * time.Hour})
	appendN(t, s, clk, 10) // records at t0+1m ... t0+10m
	es, _ := s.Records(0, 10)
	if err := s.Ack(6, es[5].Hash); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		now       time.Time
		wantN     int
		wantFirst uint64
	}{
		{"within retention", t0.Add(24*time.Hour + time.Minute), 0, 1},
		{"some past retention", t0.Add(24*time.Hour + 4*time.Minute), 3, 4},
		{"all past retention, only acked go", t0.Add(48 * time.Hour), 3, 7},
		{"nothing left to purge", t0.Add(96 * time.Hour), 0, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Advance(tt.now.Sub(clk.Now()))
			n, err := s.Purge()
			if err != nil || n != tt.wantN {
				t.Fatalf("Purge = %d, %v; want %d", n, err, tt.wantN)
			}
			res, err := s.Verify()
			if err != nil || res.First != tt.wantFirst || res.Head.Seq != 10 {
				t.Fatalf("Verify after purge = %+v, %v", res, err)
			}
		})
	}
	// The chain continues from the anchor.
	appendN(t, s, clk, 1)
	if res, err := s.Verify(); err != nil || res.Head.Seq != 11 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}
