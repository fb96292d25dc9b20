package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/offline"
	bolt "go.etcd.io/bbolt"
)

// brokenStores makes, beside a demo store, one file of every way a store
// reaches a technician broken, each with the advice its message must
// give. The store held by another process is held by this test until it
// ends.
func brokenStores(t *testing.T) []brokenStore {
	t.Helper()
	demo := demoStore(t)
	dir := t.TempDir()
	raw, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := make([]byte, 64<<10)
	_, _ = rand.Read(garbage)
	bolted := func(name string, fn func(tx *bolt.Tx) error) string {
		t.Helper()
		p := file(name, raw)
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newer := bolted("newer.db", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	})
	damaged := bolted("damaged.db", func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("journal")).Put([]byte{0, 0, 0, 0, 0, 0, 0, 13}, []byte("\xa1\x01\x02not a record"))
	})
	inUse := file("inuse.db", raw)
	s, err := offline.Open(inUse, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return []brokenStore{
		{"truncated", file("truncated.db", raw[:len(raw)/3]), "restore the store from a backup", false},
		{"empty", file("empty.db", nil), "move the file aside", false},
		{"garbage", file("garbage.db", garbage), "move the file aside", false},
		{"schema too new", newer, "upgrade yktd", false},
		{"in use", inUse, "stop the daemon", false},
		{"damaged record", damaged, "restore the store from a backup", true},
		{"missing", filepath.Join(dir, "missing.db"), "check --db", false},
		{"a directory", dir, "check the path", false},
	}
}

type brokenStore struct {
	name, path string
	advice     string // what the message must tell to do
	// journalOnly: the file opens, only reading the journal fails (the
	// status list and intents read well).
	journalOnly bool
}

// TestBrokenStoreTools: every journal and status tool, run as a real
// process on a truncated, empty, garbage, too new, held, damaged, missing
// store or a directory, ends with exit 1 and one line on stderr that
// names the command once and says what to do: never a panic, a fault or
// a half-written export.
func TestBrokenStoreTools(t *testing.T) {
	stores := brokenStores(t)
	out := t.TempDir()
	commands := []struct {
		args    []string
		journal bool // reads the journal
	}{
		{[]string{"journal", "verify"}, true},
		{[]string{"journal", "tail"}, true},
		{[]string{"journal", "intents"}, false},
		{[]string{"journal", "export", "--format", "json"}, true},
		{[]string{"journal", "export", "-o", "OUT"}, true},
		{[]string{"status", "stats"}, false},
		{[]string{"status", "lookup", "2023009999"}, false},
	}
	for _, st := range stores {
		for i, c := range commands {
			if st.journalOnly && !c.journal {
				continue
			}
			args := append([]string(nil), c.args...)
			outFile := filepath.Join(out, st.name+"-"+string(rune('a'+i))+".export")
			for j := range args {
				if args[j] == "OUT" {
					args[j] = outFile
				}
			}
			args = append(args, "--db", st.path)
			t.Run(st.name+"/"+strings.Join(c.args[:2], " "), func(t *testing.T) {
				t.Parallel()
				p := startYktd(t, args...)
				code := p.exit(t)
				msg := p.stderr.String()
				if code != 1 {
					t.Fatalf("%q: exit %d, want 1\nstderr:\n%s", args, code, msg)
				}
				lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")
				if len(lines) != 1 || !strings.HasSuffix(msg, "\n") {
					t.Errorf("%q: stderr is %d lines, want one:\n%s", args, len(lines), msg)
				}
				prefix := "yktd " + args[0] + ": "
				if !strings.HasPrefix(msg, prefix) || strings.Count(msg, prefix) != 1 {
					t.Errorf("%q: stderr does not start with %q once: %s", args, prefix, msg)
				}
				if strings.Count(msg, "offline:") > 1 || strings.Count(msg, st.path) > 1 {
					t.Errorf("%q: stderr repeats its prefix or the path: %s", args, msg)
				}
				if !strings.Contains(msg, st.advice) {
					t.Errorf("%q: stderr does not say %q: %s", args, st.advice, msg)
				}
				for _, bad := range []string{"panic", "goroutine", "SIGBUS", "signal", "fault"} {
					if strings.Contains(msg, bad) {
						t.Errorf("%q: stderr shows %q: %s", args, bad, msg)
					}
				}
				if _, err := os.Stat(outFile); err == nil {
					t.Errorf("%q left a partial export %s", args, outFile)
				}
			})
		}
	}
}

// TestBrokenStoreUntouched: the read-only tools change no byte of a
// broken store.
func TestBrokenStoreUntouched(t *testing.T) {
	for _, st := range brokenStores(t) {
		before, err := os.ReadFile(st.path)
		if err != nil {
			continue // missing, a directory
		}
		for _, args := range [][]string{{"journal", "verify"}, {"journal", "tail"}, {"status", "stats"}} {
			var out, errb bytes.Buffer
			run(append(args, "--db", st.path), &out, &errb)
		}
		if after, _ := os.ReadFile(st.path); !bytes.Equal(before, after) {
			t.Errorf("%s: a read-only tool changed the file", st.name)
		}
	}
}
