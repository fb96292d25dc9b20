package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/openykt/yktd/bench/sqlite"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// purchase is the intent of offline's tests (offline/intents_test.go): a
// record of the size a real sale writes.
func purchase(card string, amount int64) offline.PurchaseIntent {
	return offline.PurchaseIntent{
		CardNo: card, Amount: amount, BalanceBefore: 10_000, CardCounter: 7,
		TerminalID: []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06}, TerminalSeq: 99,
		TxTime:     []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0x30, 0x05},
		CardSerial: []byte{0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23},
		KeyIndex:   1, KeyVersion: 2, Algorithm: 4, MAC1: []byte{0xA1, 0xA2, 0xA3, 0xA4},
	}
}

var done = offline.Completion{BalanceAfter: 8_750, TAC: []byte{1, 2, 3, 4}, MAC2: []byte{5, 6, 7, 8}}

func openSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, offlinetest.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSQLitePersists runs sales and opens intents on SQLite, closes the
// store, reopens it and finds every record and exactly the unresolved
// intents: the benchmark's workload really reaches the file.
func TestSQLitePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sale.db")
	s := openSQLite(t, path)
	const sales, open = 25, 3
	for i := range sales {
		id, err := s.OpenIntent(purchase(fmt.Sprintf("2024%06d", i), 125))
		if err != nil {
			t.Fatalf("sale %d: open intent: %v", i, err)
		}
		if _, err := s.CompleteIntent(id, done); err != nil {
			t.Fatalf("sale %d: complete intent %d: %v", i, id, err)
		}
	}
	var ids []uint64
	for i := range open {
		id, err := s.OpenIntent(purchase(fmt.Sprintf("2025%06d", i), 300))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened by a plain connection, not the Store: the rows are there.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	var records, intents int
	if err := db.QueryRow("SELECT count(*) FROM journal").Scan(&records); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM intents").Scan(&intents); err != nil {
		t.Fatal(err)
	}
	var last []byte
	if err := db.QueryRow("SELECT record FROM journal ORDER BY seq DESC LIMIT 1").Scan(&last); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if records != 2*sales+open || intents != open {
		t.Fatalf("reopened: %d records and %d intents, want %d and %d", records, intents, 2*sales+open, open)
	}
	r, err := protocol.DecodeRecord(last)
	if err != nil || r.Kind != protocol.KindPurchaseIntent || r.Amount != 300 || r.Seq != ids[open-1] {
		t.Fatalf("last record %+v (%v), want the last intent, sequence %d", r, err, ids[open-1])
	}

	s = openSQLite(t, path)
	defer s.Close()
	for _, id := range ids {
		if _, err := s.CompleteIntent(id, done); err != nil {
			t.Fatalf("complete intent %d after reopen: %v", id, err)
		}
	}
	n, left, err := s.Check()
	if err != nil || n != 2*(sales+open) || left != 0 {
		t.Fatalf("Check = %d records, %d intents, %v; want %d, 0, nil", n, left, err, 2*(sales+open))
	}
	if _, err := s.CompleteIntent(ids[0], done); !errors.Is(err, sqlite.ErrNotFound) {
		t.Fatalf("completing intent %d twice: %v, want ErrNotFound", ids[0], err)
	}
}

// TestSQLiteRecordsAreTheProducts checks that the SQLite side writes the
// records the product writes: the same kinds, fields and byte lengths, the
// completion repeating the intent's fields with its id.
func TestSQLiteRecordsAreTheProducts(t *testing.T) {
	b, _ := offlinetest.Open(t, offline.Options{})
	q := openSQLite(t, filepath.Join(t.TempDir(), "sale.db"))
	defer q.Close()
	for _, e := range []sqlite.Engine{sqlite.Bolt{Store: b}, q} {
		id, err := e.OpenIntent(purchase("2024000001", 125))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.CompleteIntent(id, done); err != nil {
			t.Fatal(err)
		}
	}
	boltRecs, err := b.Records(0, 10)
	if err != nil || len(boltRecs) != 2 {
		t.Fatalf("bbolt records: %d, %v", len(boltRecs), err)
	}
	db, err := sql.Open("sqlite3", q.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, be := range boltRecs {
		var raw []byte
		if err := db.QueryRow("SELECT record FROM journal WHERE seq = ?", i+1).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		r, err := protocol.DecodeRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		want := be.Record
		want.Time, want.Prev, r.Time, r.Prev = 0, nil, 0, nil // wall time and device genesis differ
		if fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", want) {
			t.Errorf("record %d:\nsqlite %+v\nbbolt  %+v", i+1, r, want)
		}
		if len(raw) != len(be.Raw) {
			t.Errorf("record %d: %d bytes on sqlite, %d on bbolt", i+1, len(raw), len(be.Raw))
		}
	}
}

// TestBoltEnginePersists is TestSQLitePersists' count on the bbolt side,
// through the Engine the benchmark drives.
func TestBoltEnginePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "yktd.db")
	e, err := sqlite.OpenBolt(path, offline.Options{DeviceID: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		id, err := e.OpenIntent(purchase(fmt.Sprintf("2024%06d", i), 125))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.CompleteIntent(id, done); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.OpenIntent(purchase("2025000001", 300)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = sqlite.OpenBolt(path, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, e.Store)
	n, left, err := e.Check()
	if err != nil || n != 21 || left != 1 {
		t.Fatalf("reopened: %d records, %d intents, %v; want 21, 1, nil", n, left, err)
	}
}

// TestSQLiteSettings checks that the store runs as the benchmark claims:
// WAL mode and synchronous=FULL on its connection, and BEGIN IMMEDIATE
// (a second writer is refused while a transaction is open, not at its
// first write).
func TestSQLiteSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sale.db")
	s := openSQLite(t, path)
	defer s.Close()
	mode, sync, err := s.Settings()
	if err != nil || mode != "wal" || sync != 2 {
		t.Fatalf("Settings = %q, %d, %v; want wal, 2", mode, sync, err)
	}
	release, err := s.HoldWriteTx()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	other, err := sql.Open("sqlite3", path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("BEGIN IMMEDIATE"); err == nil {
		other.Exec("ROLLBACK")
		t.Fatal("a second writer began while the store's transaction was open: the store's Begin is not BEGIN IMMEDIATE")
	}
}

// TestCheckFindsABrokenChain: Check, which the benchmark runs after each
// measurement, does fail on a journal whose chain is broken.
func TestCheckFindsABrokenChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sale.db")
	s := openSQLite(t, path)
	defer s.Close()
	for range 3 {
		id, err := s.OpenIntent(purchase("2024000001", 125))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteIntent(id, done); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM journal WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Check(); !errors.Is(err, sqlite.ErrCorrupt) {
		t.Fatalf("Check of a journal missing record 3: %v, want ErrCorrupt", err)
	}
}
