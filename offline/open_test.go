package offline_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	bolt "go.etcd.io/bbolt"
)

// TestOpenMessages opens every kind of broken or wrong file read-only and
// read-write and checks the sentinel (errors.Is), the one-line message a
// technician reads (the package's prefix once, what to do), and that Open
// changed nothing: a file that is not a yktd store is never initialised.
func TestOpenMessages(t *testing.T) {
	dir := t.TempDir()
	put := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	foreign := filepath.Join(dir, "foreign.db") // a bbolt file of another program
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("settings"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	bare := filepath.Join(dir, "bare.db") // bbolt's empty file, no bucket
	if db, err = bolt.Open(bare, 0o600, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	good := filledStore(t)
	ps, hwm := boltGeometry(t, good)
	truncated := copyTruncated(t, good, ps*hwm/2)

	newer := filepath.Join(dir, "newer.db")
	s, err := offline.Open(newer, offline.Options{DeviceID: "dev-a"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if db, err = bolt.Open(newer, 0o600, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	devA := filepath.Join(dir, "dev-a.db")
	if s, err = offline.Open(devA, offline.Options{DeviceID: "dev-a"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, inUse := offlinetest.Open(t, offline.Options{})

	tests := []struct {
		name     string
		path     string
		opts     offline.Options
		both     bool // also read-only with the same options
		wantErr  error
		wantMsg  string // with PATH for the file name
		unchange bool   // the file's bytes must not change
	}{
		{"missing, read-only", filepath.Join(dir, "missing.db"), offline.Options{ReadOnly: true}, false, fs.ErrNotExist,
			"offline: open PATH: no such file or directory", false},
		{"0 bytes", put("empty.db", nil), offline.Options{DeviceID: "dev-a"}, true, offline.ErrNotStore,
			"offline: open PATH: not a yktd store: the file is empty; restore the store from a backup, or move the file aside", true},
		{"garbage", put("garbage.db", bytes.Repeat([]byte("garbage\n"), 5000)), offline.Options{DeviceID: "dev-a"}, true, offline.ErrNotStore,
			"offline: open PATH: not a yktd store: the file is not a bbolt database (40000 bytes); check the path, or move the file aside", true},
		{"short text", put("text.db", []byte("hello\n")), offline.Options{DeviceID: "dev-a"}, true, offline.ErrNotStore,
			"offline: open PATH: not a yktd store: the file is not a bbolt database (6 bytes); check the path, or move the file aside", true},
		{"another program's bbolt file", foreign, offline.Options{DeviceID: "dev-a"}, true, offline.ErrNotStore,
			"offline: open PATH: not a yktd store: a bbolt database without a yktd schema; check the path, or move the file aside", true},
		{"bbolt file without buckets", bare, offline.Options{DeviceID: "dev-a"}, true, offline.ErrNotStore,
			"offline: open PATH: not a yktd store: a bbolt database without a yktd schema; check the path, or move the file aside", true},
		{"truncated", truncated, offline.Options{}, true, offline.ErrCorrupt,
			"offline: open PATH: store corrupt: truncated: the file is 270336 bytes, its 33 pages of 16384 bytes end at 540672; keep the file (it may hold records the ledger has not received) and restore the store from a backup", true},
		{"in use", inUse, offline.Options{LockTimeout: 50 * time.Millisecond}, true, offline.ErrStoreInUse,
			"offline: open PATH: store in use by another process (is the daemon running?)", false},
		{"schema too new", newer, offline.Options{DeviceID: "dev-a"}, true, offline.ErrSchemaTooNew,
			"offline: open PATH: store schema is newer than this program (schema 99, this program knows 6): upgrade yktd", true},
		{"other device", devA, offline.Options{DeviceID: "dev-b"}, true, offline.ErrDeviceMismatch,
			`offline: open PATH: store belongs to another device ("dev-a", not "dev-b")`, true},
		{"new store without a device id", filepath.Join(dir, "new.db"), offline.Options{}, false, offline.ErrInvalid,
			"offline: open PATH: a new store needs a device id: invalid argument", false},
	}
	for _, tt := range tests {
		modes := []bool{tt.opts.ReadOnly}
		if tt.both {
			modes = []bool{false, true}
		}
		for _, ro := range modes {
			opts := tt.opts
			opts.ReadOnly = ro
			t.Run(tt.name+map[bool]string{false: "/read-write", true: "/read-only"}[ro], func(t *testing.T) {
				before, _ := os.ReadFile(tt.path)
				s, err := offline.Open(tt.path, opts)
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Open = %v, want %v", err, tt.wantErr)
				}
				if want := strings.ReplaceAll(tt.wantMsg, "PATH", tt.path); err.Error() != want {
					t.Errorf("message\n %s\nwant\n %s", err, want)
				}
				if n := strings.Count(err.Error(), "offline:"); n != 1 {
					t.Errorf("message repeats its prefix %d times: %s", n, err)
				}
				if after, _ := os.ReadFile(tt.path); tt.unchange && !bytes.Equal(before, after) {
					t.Errorf("Open changed the file (%d bytes, now %d)", len(before), len(after))
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open without a device id left a file behind: %v", err)
	}
}

// TestSentinelsReadOnce: every sentinel's message is free of the package
// prefix, which the error wrapping it adds once.
func TestSentinelsReadOnce(t *testing.T) {
	for _, e := range []error{
		offline.ErrNotFound, offline.ErrVersionGap, offline.ErrStaleVersion, offline.ErrDigestMismatch,
		offline.ErrSchemaTooNew, offline.ErrStoreInUse, offline.ErrStorageFull, offline.ErrNearlyFull,
		offline.ErrReadOnly, offline.ErrDeviceMismatch, offline.ErrIntentState, offline.ErrBadAck,
		offline.ErrInvalid, offline.ErrCorrupt, offline.ErrNotStore, offline.ErrChainBroken,
		offline.ErrNonceCacheFull, offline.ErrNonceExpired, offline.ErrRulesStale,
	} {
		if strings.HasPrefix(e.Error(), "offline:") {
			t.Errorf("sentinel %q carries the prefix", e)
		}
	}
}
