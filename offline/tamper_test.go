package offline_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// TestVerifyDetectsTamperedFile closes a store, changes its file through
// bbolt directly, as someone with the SD card in hand could, and checks
// that Verify of the reopened store names the first broken sequence.
func TestVerifyDetectsTamperedFile(t *testing.T) {
	journal := []byte("journal")
	key := func(seq uint64) []byte {
		var b [8]byte
		for i := range b {
			b[i] = byte(seq >> (56 - 8*i))
		}
		return b[:]
	}
	flip := func(seq uint64) func(b *bolt.Bucket) error {
		return func(b *bolt.Bucket) error {
			v := bytes.Clone(b.Get(key(seq)))
			i := bytes.Index(v, []byte("2024000001"))
			if i < 0 {
				t.Fatalf("record %d has no card number", seq)
			}
			v[i+9] = '9' // the same length, still a valid record: only the hash tells
			return b.Put(key(seq), v)
		}
	}
	tests := []struct {
		name    string
		tamper  func(b *bolt.Bucket) error
		wantSeq uint64
	}{
		{"one byte changed", flip(2), 3},
		{"one byte of the last record changed", flip(4), 5},
		{"record removed", func(b *bolt.Bucket) error { return b.Delete(key(2)) }, 2},
		{"first record removed", func(b *bolt.Bucket) error { return b.Delete(key(1)) }, 1},
		{"records reordered", func(b *bolt.Bucket) error {
			two, three := bytes.Clone(b.Get(key(2))), bytes.Clone(b.Get(key(3)))
			if err := b.Put(key(2), three); err != nil {
				return err
			}
			return b.Put(key(3), two)
		}, 2},
		{"last record removed", func(b *bolt.Bucket) error { return b.Delete(key(4)) }, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.db")
			s, err := offline.Open(path, offline.Options{DeviceID: "d", Clock: offlinetest.NewClock(time.Unix(1e9, 0))})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				in, err := s.OpenIntent(purchase("2024000001", 100))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.CompleteIntent(in.ID, done); err != nil {
					t.Fatal(err)
				}
			}
			if res, err := s.Verify(); err != nil || res.Count != 4 {
				t.Fatalf("Verify before = %+v, %v", res, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tt.tamper(tx.Bucket(journal)) }); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s, err = offline.Open(path, offline.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Verify()
			var ce *offline.ChainError
			if !errors.As(err, &ce) || !errors.Is(err, offline.ErrChainBroken) {
				t.Fatalf("Verify = %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq {
				t.Fatalf("broken at %d, want %d (%v)", ce.Seq, tt.wantSeq, err)
			}
			// The daemon's check at start sees the same break: nothing
			// is acknowledged, so the tail is the whole journal.
			_, err = s.VerifyTail()
			if !errors.As(err, &ce) || ce.Seq != tt.wantSeq {
				t.Fatalf("VerifyTail = %v, want a *ChainError at %d", err, tt.wantSeq)
			}
		})
	}
}

// TestVerifyTailFromCursor: VerifyTail starts at the acknowledged cursor:
// a damaged record the ledger already holds is not its concern (Verify
// still finds it), one after the cursor is.
func TestVerifyTailFromCursor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "d", Clock: offlinetest.NewClock(time.Unix(1e9, 0))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "2024000001"}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := s.Records(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(3, e[0].Hash); err != nil {
		t.Fatal(err)
	}
	if res, err := s.VerifyTail(); err != nil || res.First != 4 || res.Count != 3 || res.Head.Seq != 6 {
		t.Fatalf("VerifyTail = %+v, %v; want records 4..6", res, err)
	}
	s.Close()
	tamper := func(seq uint64) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("journal")).Delete(be64(seq)) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	tamper(2) // acknowledged: the ledger holds it
	s, err = offline.Open(path, offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyTail(); err != nil {
		t.Fatalf("VerifyTail with an acknowledged record missing = %v", err)
	}
	if _, err := s.Verify(); !errors.Is(err, offline.ErrChainBroken) {
		t.Fatalf("Verify = %v, want the break", err)
	}
	s.Close()
	tamper(5)
	s, err = offline.Open(path, offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ce *offline.ChainError
	if _, err := s.VerifyTail(); !errors.As(err, &ce) || ce.Seq != 5 {
		t.Fatalf("VerifyTail = %v, want a break at 5", err)
	}
}

func be64(v uint64) []byte {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (56 - 8*i))
	}
	return b[:]
}

// TestFailedCommitLeavesNoGap: a transaction that fails half-way, after the
// store wrote a clock-changed record and before the record itself encoded,
// leaves nothing behind; the next record takes the next sequence.
func TestFailedCommitLeavesNoGap(t *testing.T) {
	clock := offlinetest.NewClock(time.Unix(1e9, 0))
	s, _ := offlinetest.Open(t, offline.Options{Clock: clock})
	if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "c1"}); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(time.Hour)) // a clock-changed record is due with the next record
	bad := protocol.Record{Kind: protocol.KindGatePass, CardNo: "c1", Reason: string(make([]byte, protocol.MaxRecordSize))}
	if _, err := s.Append(bad); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("Append of a record too large to encode = %v, want ErrInvalid", err)
	}
	if h, _ := s.Head(); h.Seq != 1 {
		t.Fatalf("head %d after a failed append, want 1", h.Seq)
	}
	in, err := s.OpenIntent(purchase("c1", 100))
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != 3 { // 2 is the clock-changed record, now written with it
		t.Fatalf("intent id %d, want 3", in.ID)
	}
	es, _ := s.Records(0, 10)
	if len(es) != 3 || es[1].Record.Kind != protocol.KindClockChanged {
		t.Fatalf("records %+v", es)
	}
	if res, err := s.Verify(); err != nil || res.Count != 3 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

// TestFullFileLeavesNoGap: a commit refused by bbolt's MaxSize rolls the
// sequence back with it: once room is made, the next record follows the
// last committed one.
func TestFullFileLeavesNoGap(t *testing.T) {
	clock := offlinetest.NewClock(time.Unix(1e9, 0))
	path := filepath.Join(t.TempDir(), "full.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "d", Clock: clock, MaxSize: 256 << 10, ReserveBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s)
	big := protocol.Record{Kind: protocol.KindAlarm, Reason: string(make([]byte, 64)), CardNo: "01234567890123456789012345678901"}
	var lastOK uint64
	for i := 0; ; i++ {
		seq, err := s.Append(big)
		if err != nil {
			if !errors.Is(err, offline.ErrStorageFull) {
				t.Fatal(err)
			}
			break
		}
		if i > 100_000 {
			t.Fatal("the file never filled")
		}
		lastOK = seq
	}
	h, _ := s.Head()
	if h.Seq != lastOK {
		t.Fatalf("head %d after the refused commit, last committed %d", h.Seq, lastOK)
	}
	if err := s.Ack(h.Seq, h.Hash); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * 24 * time.Hour)
	if n, err := s.Purge(); err != nil || n == 0 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	seq, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "after-full"})
	if err != nil || seq != lastOK+1 {
		t.Fatalf("append after making room = %d, %v; want %d", seq, err, lastOK+1)
	}
	if _, err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentCompletionsJournalOnce: completions of one intent racing
// through the group commit journal exactly one record; the others fail.
func TestConcurrentCompletionsJournalOnce(t *testing.T) {
	s, _ := offlinetest.Open(t, offline.Options{})
	in, err := s.OpenIntent(purchase("c1", 100))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		go func() { _, err := s.CompleteIntent(in.ID, done); errs <- err }()
		go func() { _, err := s.VoidIntent(in.ID, "x"); errs <- err }()
	}
	ok := 0
	for i := 0; i < 2*n; i++ {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, offline.ErrNotFound) {
			t.Errorf("losing resolution: %v, want ErrNotFound", err)
		}
	}
	es, _ := s.Records(0, 100)
	if ok != 1 || len(es) != 2 {
		t.Fatalf("%d resolutions succeeded, %d records; want 1 and 2", ok, len(es))
	}
}
