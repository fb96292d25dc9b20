package offline

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time           { c.t = c.t.Add(time.Millisecond); return c.t }
func (c *stepClock) Monotonic() time.Duration { return time.Duration(c.t.UnixNano()) }

func storeWith(t *testing.T, n int) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "v.db"), Options{DeviceID: "d", Clock: &stepClock{t: time.Unix(1e9, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := 0; i < n; i++ {
		if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "c1"}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestVerifyFindsFirstBrokenLink tampers with a stored journal in each way
// an attacker or a bad disk could and checks that Verify names the sequence.
func TestVerifyFindsFirstBrokenLink(t *testing.T) {
	reencode := func(mod func(*protocol.Record)) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketJournal)
			r, err := protocol.DecodeRecord(b.Get(be64(3)))
			if err != nil {
				return err
			}
			mod(&r)
			raw, err := protocol.EncodeRecord(&r)
			if err != nil {
				return err
			}
			return b.Put(be64(3), raw)
		}
	}
	tests := []struct {
		name    string
		tamper  func(tx *bolt.Tx) error
		wantSeq uint64
	}{
		{"record changed", reencode(func(r *protocol.Record) { r.CardNo = "c2" }), 4},
		{"link changed", reencode(func(r *protocol.Record) { r.Prev = make([]byte, 32) }), 3},
		{"sequence inside changed", reencode(func(r *protocol.Record) { r.Seq = 9 }), 3},
		{"record deleted", func(tx *bolt.Tx) error { return tx.Bucket(bucketJournal).Delete(be64(3)) }, 3},
		{"garbage", func(tx *bolt.Tx) error { return tx.Bucket(bucketJournal).Put(be64(3), []byte{1, 2}) }, 3},
		{"last record deleted", func(tx *bolt.Tx) error { return tx.Bucket(bucketJournal).Delete(be64(5)) }, 5},
		{"record appended behind the head's back", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketJournal).Put(be64(6), tx.Bucket(bucketJournal).Get(be64(5)))
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storeWith(t, 5)
			if _, err := s.Verify(); err != nil {
				t.Fatal(err)
			}
			if err := s.db.Update(tt.tamper); err != nil {
				t.Fatal(err)
			}
			_, err := s.Verify()
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("Verify = %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq {
				t.Fatalf("broken at %d, want %d (%v)", ce.Seq, tt.wantSeq, err)
			}
		})
	}
}
