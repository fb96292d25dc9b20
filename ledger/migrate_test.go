package ledger_test

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// v1Dir copies the schema-1 ledger of testdata/ledger-v1 into a new data
// directory and returns it with the enrolled device's signer.
func v1Dir(t *testing.T) (string, *ledgertest.Device) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(filepath.Join("testdata", "ledger-v1", "ledger.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	db, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ledger.DBFile), db, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join("testdata", "ledger-v1", "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ledger.KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join("testdata", "ledger-v1", "device.seed"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := hex.DecodeString(strings.TrimSpace(string(seed)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.NewSigner("pos-1", protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	return dir, &ledgertest.Device{ID: "pos-1", Signer: s, Private: priv}
}

// appendRecords chains records onto what the ledger holds of device (its
// head and high-water mark) and returns the batch.
func appendRecords(t *testing.T, d ledger.Device, recs ...protocol.Record) protocol.Batch {
	t.Helper()
	prev := [protocol.HashSize]byte(d.Head)
	raws := make([][]byte, len(recs))
	h := prev
	for i := range recs {
		recs[i].Seq, recs[i].Prev, recs[i].Time = d.HighWater+uint64(i)+1, h[:], 1_789_000_000_000
		raw, err := protocol.EncodeRecord(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		raws[i], h = raw, protocol.RecordHash(raw)
	}
	b, err := protocol.NewBatch(d.ID, d.HighWater+uint64(len(recs)), prev, raws)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMigrateSchema1: a ledger.db written by schema 1 opens, is migrated to
// schema 2 in place, keeps everything, and the sales it held become the
// sales memory: the sale reversed under schema 1 (which owed its load
// then) cannot be reversed again, the other one can, once.
func TestMigrateSchema1(t *testing.T) {
	dir, dev := v1Dir(t)
	c := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Dir: dir, Now: c.Now})
	d := device(t, tl, "pos-1")
	if d.HighWater != 5 || d.Stats.Records != 5 || d.Stats.ReversalCount != 1 {
		t.Fatalf("device after migration %+v", d)
	}
	const card = "10012026090100000001"
	if loads, err := tl.PendingLoads(card); err != nil || len(loads) != 1 || loads[0].Amount != 1100 {
		t.Fatalf("schema 1's load: %+v %v", loads, err)
	}
	alerts, err := tl.Alerts()
	if err != nil || len(alerts) != 1 || alerts[0].Kind != ledger.AlertFork {
		t.Fatalf("schema 1's fork alert: %+v %v", alerts, err)
	}
	b := appendRecords(t, d,
		protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 1, CardNo: card, Amount: 1100}, // 6: reversed under schema 1
		protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 3, CardNo: card, Amount: 700},  // 7: good
		protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 3, CardNo: card, Amount: 700},  // 8: twice
	)
	if ack, e := upload(t, tl, dev, b); e != nil || ack.AckedThrough != 8 {
		t.Fatalf("upload: %+v %v", ack, e)
	}
	loads, _ := tl.PendingLoads(card)
	if len(loads) != 2 || loads[1].Amount != 700 || loads[1].Source != "reversal pos-1/7" {
		t.Errorf("loads after the reversals %+v, want schema 1's and record 7's", loads)
	}
	alerts, _ = tl.Alerts()
	if countKind(alerts, ledger.AlertReversal) != 2 {
		t.Errorf("alerts %+v, want records 6 and 8 refused", alerts)
	}
	tl.Restart() // opens a schema-2 file: nothing to migrate
	if got := device(t, tl, "pos-1"); got.HighWater != 8 || got.Stats.ReversalsRefused != 2 {
		t.Errorf("after restart %+v", got.Stats)
	}
}

// TestNewerSchemaRefused: a file of a schema this program does not know is
// refused, not opened half-understood.
func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := ledger.Open(dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	db, err := bolt.Open(filepath.Join(dir, ledger.DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := ledger.Open(dir, ledger.Options{}); err == nil || !strings.Contains(err.Error(), "schema 99") {
		t.Fatalf("open of schema 99: %v", err)
	}
}

// TestMigrateAccounts: the schema-1 file is migrated through schema 2 to
// 3 (the accounts' buckets); its pending load stays claimable as it was,
// its card cannot get an account while it waits, another card can.
func TestMigrateAccounts(t *testing.T) {
	dir, _ := v1Dir(t)
	tl := ledgertest.Start(t, ledgertest.Options{Dir: dir, Now: newClock().Now})
	const card = "10012026090100000001"
	if loads, err := tl.PendingLoads(card); err != nil || len(loads) != 1 {
		t.Fatalf("schema 1's load after migration: %+v %v", loads, err)
	}
	if _, err := tl.AddAccount(ledger.AccountParams{ID: "S1", Card: card}); err == nil {
		t.Error("an account over a card with loads from before accounts")
	}
	if _, err := tl.AddAccount(ledger.AccountParams{ID: "S2", Card: "10012026090100000003"}); err != nil {
		t.Fatalf("account after migration: %v", err)
	}
	if _, err := tl.TopUp("S2", 100, "t"); err != nil {
		t.Fatal(err)
	}
	tl.Close()
	tl.Ledger = nil
	db, err := bolt.Open(filepath.Join(dir, ledger.DBFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); len(v) != 8 || v[7] != 3 {
			t.Errorf("schema after migration %x", v)
		}
		if tx.Bucket([]byte("cardseen")).Get([]byte(card+"\x00pos-1")) == nil {
			t.Error("the journals' cards were not noted as seen by pos-1")
		}
		for _, b := range []string{"accounts", "cardacct", "acctlog", "transfers", "simbank", "cardctr", "cardseen"} {
			if tx.Bucket([]byte(b)) == nil {
				t.Errorf("no bucket %s", b)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
