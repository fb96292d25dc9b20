package offline

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// TestIntentOldValueDecodes stores an intent the way a store written before
// the recovery fields (record keys 20..25) did and checks it still decodes,
// resolves, and reports that it cannot be recovered from the card.
func TestIntentOldValueDecodes(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "old.db"), Options{DeviceID: "d", Clock: &stepClock{t: time.Unix(1e9, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var id uint64
	if err := s.db.Update(func(tx *bolt.Tx) error {
		e, err := s.appendTx(tx, protocol.Record{
			Kind: protocol.KindPurchaseIntent, CardNo: "c1", Amount: 100, BalanceBefore: 500, CardCounter: 3,
			TerminalID: []byte{1, 2, 3, 4, 5, 6}, TerminalSeq: 7,
		}, classNew)
		if err != nil {
			return err
		}
		id = e.Record.Seq
		raw, err := s.recordBytes(tx, id)
		if err != nil {
			return err
		}
		return putIntent(tx, id, IntentUncertain, raw)
	}); err != nil {
		t.Fatal(err)
	}
	in, err := s.FindUncertain("c1")
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != id || in.Amount != 100 || in.TerminalSeq != 7 || in.TxTime != nil || in.Recoverable() {
		t.Fatalf("old intent = %+v (recoverable %v)", in, in.Recoverable())
	}
	if _, err := s.VoidIntent(id, "resolved-by-hand"); err != nil {
		t.Fatal(err)
	}
}
