package offline_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

func TestCapacityLevelsByRecords(t *testing.T) {
	// 20 records at most, 4 kept in reserve: purchases stop at 16, nearly full from 12.
	s, _ := offlinetest.Open(t, offline.Options{MaxUnacked: 20, Reserve: 4})
	tests := []struct {
		name      string
		intents   int
		wantLevel offline.Level
		wantErr   error
	}{
		{"empty", 0, offline.LevelOK, nil},
		{"some", 6, offline.LevelOK, nil},
		{"nearly full", 6, offline.LevelNearlyFull, offline.ErrNearlyFull},
		{"full", 4, offline.LevelFull, offline.ErrStorageFull},
	}
	var open []offline.Intent
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < tt.intents; i++ {
				in, err := s.OpenIntent(purchase("c1", 100))
				if err != nil {
					t.Fatal(err)
				}
				open = append(open, in)
			}
			c, err := s.Capacity()
			if err != nil || c.Level != tt.wantLevel || !errors.Is(c.Err(), tt.wantErr) || (tt.wantErr == nil && c.Err() != nil) {
				t.Fatalf("Capacity = %+v (%v), %v; want %v", c, c.Err(), err, tt.wantLevel)
			}
		})
	}
	if _, err := s.OpenIntent(purchase("c1", 100)); !errors.Is(err, offline.ErrStorageFull) {
		t.Fatalf("OpenIntent when full = %v, want ErrStorageFull", err)
	}
	// The reserve takes the outcomes of open intents: evidence of debits is never refused.
	for i := 0; i < 4; i++ {
		if _, err := s.CompleteIntent(open[i].ID, done); err != nil {
			t.Fatalf("completion %d in the reserve: %v", i, err)
		}
	}
	// Hard cap: now even evidence is refused rather than overwriting anything.
	if _, err := s.VoidIntent(open[4].ID, "x"); !errors.Is(err, offline.ErrStorageFull) {
		t.Fatalf("record beyond the hard cap = %v, want ErrStorageFull", err)
	}
	// Acknowledging frees room.
	h, _ := s.Head()
	if err := s.Ack(h.Seq, h.Hash); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Capacity(); c.Level != offline.LevelOK || c.Unacked != 0 {
		t.Fatalf("after ack: %+v", c)
	}
	if _, err := s.OpenIntent(purchase("c1", 100)); err != nil {
		t.Fatalf("OpenIntent after ack: %v", err)
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range map[offline.Level]string{
		offline.LevelOK:         "ok",
		offline.LevelNearlyFull: "storage nearly full, collect the journal",
		offline.LevelFull:       "storage full, collect the journal",
	} {
		if l.String() != want {
			t.Errorf("%d.String() = %q, want %q", l, l.String(), want)
		}
	}
}

// TestFullDiskLeavesStoreConsistent fills a store capped with MaxSize (a
// stand-in for a full disk): new purchases stop at the byte reserve while
// the completion of an open intent still fits; filling on until bbolt refuses
// to grow gives ErrStorageFull and leaves a store that verifies and reopens.
func TestFullDiskLeavesStoreConsistent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	const maxSize = 256 << 10
	s, err := offline.Open(path, offline.Options{DeviceID: "d", MaxSize: maxSize, ReserveBytes: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.OpenIntent(purchase("c1", 1))
	if err != nil {
		t.Fatal(err)
	}
	big := protocol.Record{Kind: protocol.KindAlarm, Reason: string(make([]byte, 64)), CardNo: "01234567890123456789012345678901"}
	fill := func(until func() bool) (lastOK uint64, err error) {
		for i := 0; i < 100_000 && !until(); i++ {
			if lastOK, err = s.Append(big); err != nil {
				return lastOK, err
			}
		}
		return lastOK, nil
	}
	if _, err := fill(func() bool { c, _ := s.Capacity(); return c.Level == offline.LevelFull }); err != nil {
		t.Fatalf("filling to the reserve: %v", err)
	}
	if _, err := s.OpenIntent(purchase("c2", 1)); !errors.Is(err, offline.ErrStorageFull) {
		t.Fatalf("OpenIntent inside the byte reserve = %v, want ErrStorageFull", err)
	}
	if _, err := s.CompleteIntent(in.ID, done); err != nil {
		t.Fatalf("completion inside the byte reserve: %v", err)
	}
	head, _ := s.Head()
	lastOK := head.Seq
	for {
		seq, err := s.Append(big)
		if err != nil {
			if !errors.Is(err, offline.ErrStorageFull) {
				t.Fatalf("filling the store ended with %v, want ErrStorageFull", err)
			}
			break
		}
		lastOK = seq
	}
	res, err := s.Verify()
	if err != nil || res.Head.Seq != lastOK {
		t.Fatalf("Verify after full = %+v, %v (last committed %d)", res, err, lastOK)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = offline.Open(path, offline.Options{MaxSize: maxSize})
	if err != nil {
		t.Fatalf("reopen after full: %v", err)
	}
	defer offlinetest.CheckAndClose(t, s)
	if res, err := s.Verify(); err != nil || res.Head.Seq != lastOK {
		t.Fatalf("Verify after reopen = %+v, %v", res, err)
	}
}

// TestReserveNotBelowCap: a reserve as large as the cap must not let new
// purchases past the hard cap while their outcomes would be refused.
func TestReserveNotBelowCap(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{MaxUnacked: 4, Reserve: 8})
	var opened int
	for i := 0; i < 10; i++ {
		if _, err := s.OpenIntent(purchase("c1", 100)); err != nil {
			if !errors.Is(err, offline.ErrStorageFull) {
				t.Fatal(err)
			}
			break
		}
		opened++
	}
	if c, _ := s.Capacity(); c.Level != offline.LevelFull || opened > 4 {
		t.Fatalf("opened %d intents with a cap of 4; capacity %+v", opened, c)
	}
}
