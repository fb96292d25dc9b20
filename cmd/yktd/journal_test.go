package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// demoStore makes a demo store through the command and returns its path.
func demoStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo.db")
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "demo", "--db", path}, &out, &errb); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errb.String())
	}
	return path
}

func TestJournalCommands(t *testing.T) {
	path := demoStore(t)
	outFile := filepath.Join(t.TempDir(), "export.cbor")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"verify", []string{"journal", "verify", "--db", path}, 0, []string{"OK 13 records", "device demo-pos-0001"}, ""},
		{"tail", []string{"journal", "tail", "--db", path, "-n", "3"}, 0, []string{"alarm", "config-applied", "version=2"}, ""},
		{"tail shows purchases", []string{"journal", "tail", "--db", path, "-n", "100"}, 0,
			[]string{"purchase-completed", "amount=3.50", "balance=50.00→46.50", "purchase-uncertain", "reason=card-removed"}, ""},
		{"export to file", []string{"journal", "export", "--db", path, "-o", outFile}, 0, nil, "exported 13 records"},
		{"export refuses to overwrite", []string{"journal", "export", "--db", path, "-o", outFile}, 1, nil, "exists"},
		{"demo refuses existing", []string{"journal", "demo", "--db", path}, 1, nil, "already exists"},
		{"no subcommand", []string{"journal"}, 2, nil, "missing subcommand"},
		{"unknown subcommand", []string{"journal", "frob"}, 2, nil, "unknown subcommand"},
		{"no db", []string{"journal", "verify"}, 2, nil, "--db FILE is required"},
		{"bad n", []string{"journal", "tail", "--db", path, "-n", "0"}, 2, nil, "-n must be positive"},
		{"bad format", []string{"journal", "export", "--db", path, "--format", "xml"}, 2, nil, "cbor or json"},
		{"missing store", []string{"journal", "verify", "--db", path + ".nope"}, 1, nil, "no such file"},
		{"stray argument", []string{"journal", "verify", "--db", path, "x"}, 2, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout %q lacks %q", out.String(), w)
				}
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
		})
	}
	// The CBOR export is the exact records, one after the other.
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(outFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("export mode %v, want 0600", fi.Mode().Perm())
	}
	prev := protocol.GenesisHash("demo-pos-0001")
	for seq := uint64(1); len(raw) > 0; seq++ {
		var m cbor.RawMessage
		rest, err := cbor.UnmarshalFirst(raw, &m)
		if err != nil {
			t.Fatal(err)
		}
		r, err := protocol.DecodeRecord(m)
		if err != nil || r.Seq != seq || !bytes.Equal(r.Prev, prev[:]) {
			t.Fatalf("exported record %d: %+v, %v", seq, r, err)
		}
		prev, raw = protocol.RecordHash(m), rest
	}
}

func TestJournalExportJSON(t *testing.T) {
	path := demoStore(t)
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "export", "--db", path, "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 13 {
		t.Fatalf("%d lines, want 13", len(lines))
	}
	var first struct {
		Seq      uint64 `json:"seq"`
		KindName string `json:"kind_name"`
		Amount   int64  `json:"amount"`
		Hash     string `json:"hash"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.KindName != "purchase-intent" || first.Amount != 350 || len(first.Hash) != 64 {
		t.Fatalf("first line = %+v", first)
	}
}

func TestJournalVerifyBroken(t *testing.T) {
	path := demoStore(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("journal")).Delete([]byte{0, 0, 0, 0, 0, 0, 0, 5})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "verify", "--db", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), "BROKEN at sequence 5") {
		t.Fatalf("stdout %q", out.String())
	}
}

func TestJournalStoreInUse(t *testing.T) {
	path := demoStore(t)
	s, err := offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "verify", "--db", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "in use by another process") {
		t.Fatalf("stderr %q", errb.String())
	}
}
