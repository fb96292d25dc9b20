package offline

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openAt makes a bare bbolt file migrated to schema version v.
func openAt(t *testing.T, v uint64) (*bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v > 0 {
		if err := db.Update(func(tx *bolt.Tx) error { return migrate(tx, v) }); err != nil {
			t.Fatal(err)
		}
	}
	return db, path
}

func TestMigrations(t *testing.T) {
	tests := []struct {
		to    uint64
		check func(tx *bolt.Tx) error
	}{
		{1, func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketMeta, bucketJournal, bucketIntents, bucketSync} {
				if tx.Bucket(b) == nil {
					return errors.New("missing bucket " + string(b))
				}
			}
			return nil
		}},
		{2, func(tx *bolt.Tx) error {
			if tx.Bucket(bucketStatus) == nil {
				return errors.New("no status bucket")
			}
			si, err := readStatusInfo(tx)
			if err != nil {
				return err
			}
			if si.Version != 0 || si.Count != 0 || si.Digest != emptyStatusDigest() {
				return errors.New("status metadata not initialised")
			}
			return nil
		}},
		{3, func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketRules, bucketPending, bucketQRNonce} {
				if tx.Bucket(b) == nil {
					return errors.New("missing bucket " + string(b))
				}
			}
			return nil
		}},
		{4, func(tx *bolt.Tx) error {
			si, err := readStatusInfo(tx)
			if err != nil {
				return err
			}
			if si.Digest != emptyStatusDigest() || tx.Bucket(bucketStatus).Stats().KeyN != 0 {
				return errors.New("empty status list not migrated")
			}
			return nil
		}},
		{5, func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketRules, bucketQRNonce, bucketQRExpiry} {
				if tx.Bucket(b) == nil || tx.Bucket(b).Stats().KeyN != 0 {
					return errors.New("missing or non-empty bucket " + string(b))
				}
			}
			if n, err := readNonceCount(tx); err != nil || n != 0 {
				return fmt.Errorf("nonce count %d, %v", n, err)
			}
			return nil
		}},
		{6, func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketCardWrites); b == nil || b.Stats().KeyN != 0 {
				return errors.New("missing or non-empty bucket " + string(bucketCardWrites))
			}
			return nil
		}},
	}
	if len(tests) != len(migrations) || migrations[len(migrations)-1].version != schemaVersion {
		t.Fatalf("%d migrations, %d tests, schema %d: add a test per migration", len(migrations), len(tests), schemaVersion)
	}
	for _, tt := range tests {
		t.Run(migrations[tt.to-1].name, func(t *testing.T) {
			db, _ := openAt(t, tt.to-1)
			defer db.Close()
			err := db.Update(func(tx *bolt.Tx) error {
				if err := migrate(tx, tt.to); err != nil {
					return err
				}
				if got, err := schemaOf(tx); err != nil || got != tt.to {
					t.Errorf("schema = %d, want %d", got, tt.to)
				}
				return tt.check(tx)
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenMigratesOldStore(t *testing.T) {
	db, path := openAt(t, 1)
	db.Close()
	s, err := Open(path, Options{DeviceID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v, err := schemaOf(tx); err != nil || v != schemaVersion || tx.Bucket(bucketQRNonce) == nil {
			return errors.New("not migrated")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	db, path := openAt(t, schemaVersion)
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, be64(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, ro := range []bool{false, true} {
		s, err := Open(path, Options{DeviceID: "d", ReadOnly: ro})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("read-only=%v: Open = %v, want ErrSchemaTooNew", ro, err)
		}
	}
}

// TestMigrateStatusPartitions fills a schema-3 status bucket (one key per
// card) and checks that migration 4 keeps every entry, version and count
// and stores the v2 digest of the same list.
func TestMigrateStatusPartitions(t *testing.T) {
	db, path := openAt(t, 3)
	since := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var entries []StatusEntry
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStatus)
		var counts [numReasons]uint64
		for i := 0; i < 500; i++ {
			e := StatusEntry{CardNo: fmt.Sprintf("2024%06d", i*7), Reason: Reason(1 + i%5), Since: since.Add(time.Duration(i) * time.Minute), Version: uint64(3 + i%2)}
			if i == 499 {
				e.CardNo = "X-77"
			}
			entries = append(entries, e)
			counts[e.Reason]++
			if err := b.Put([]byte(e.CardNo), encodeStatusValue(nil, e.Reason, e.Since.Unix(), e.Version)); err != nil {
				return err
			}
		}
		return writeStatusInfo(tx, 4, [32]byte{1}, &counts)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, Options{DeviceID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	si, err := s.StatusInfo()
	if err != nil || si.Version != 4 || si.Count != 500 || si.ByReason[ReasonLost] != 100 || si.Digest != StatusDigest(entries) {
		t.Fatalf("StatusInfo after migration = %+v, %v", si, err)
	}
	for _, e := range entries {
		got, found, err := s.Lookup(e.CardNo)
		if err != nil || !found || got != e {
			t.Fatalf("Lookup(%s) = %+v %v %v, want %+v", e.CardNo, got, found, err, e)
		}
	}
	if err := s.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
}
