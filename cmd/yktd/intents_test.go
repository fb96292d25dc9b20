package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestJournalIntents(t *testing.T) {
	dir := t.TempDir()

	// The journal demo store leaves one sale uncertain.
	pending := filepath.Join(dir, "pending.db")
	var out, errb bytes.Buffer
	if code := run([]string{"journal", "demo", "--db", pending}, &out, &errb); code != 0 {
		t.Fatalf("journal demo: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"journal", "intents", "--db", pending}, &out, &errb); code != 3 {
		t.Fatalf("intents with a pending sale: exit %d, want 3 (stderr %q)", code, errb.String())
	}
	if got := out.String(); !strings.Contains(got, "1 purchase(s) wait") || !strings.Contains(got, "uncertain") ||
		!strings.Contains(got, "recoverable from the card") {
		t.Errorf("intents output:\n%s", got)
	}

	// yktd demo resolves every sale it starts.
	out.Reset()
	if code := run([]string{"demo", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"journal", "intents", "--db", filepath.Join(dir, "yktd.db")}, &out, &errb); code != 0 {
		t.Fatalf("intents with none pending: exit %d", code)
	}
	if !strings.Contains(out.String(), "no open or uncertain purchases") {
		t.Errorf("intents output: %q", out.String())
	}

	if code := run([]string{"journal", "intents"}, &out, &errb); code != 2 {
		t.Errorf("intents without --db: exit %d, want 2", code)
	}
}
