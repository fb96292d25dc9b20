package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
)

// TestAccountExtendFile: ledgerd account extend --file makes a pending
// valid-until card write per line, on the database directly and through
// a serving ledgerd's admin socket, and prints the counts; a malformed
// line refuses the whole file with its line number and changes nothing;
// --file with arguments is a usage error.
func TestAccountExtendFile(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, "init", "--data", dir); code != 0 {
		t.Fatal(errs)
	}
	for i, id := range []string{"S2026001", "S2026002"} {
		card := "1001202609010000000" + string(rune('1'+i))
		if code, _, errs := runCmd(t, "account", "add", "--data", dir, "--card", card, "--valid-until", "20300831", id); code != 0 {
			t.Fatal(errs)
		}
	}
	file := filepath.Join(t.TempDir(), "extend.txt")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# 2026 registry\nS2026001 20310831\nS2026002 20310831\nNOBODY 20310831\n")
	code, out, errs := runCmd(t, "account", "extend", "--data", dir, "--file", file)
	if code != 0 || !strings.Contains(out, "3 lines: 2 extended (card writes pending; 0 replaced a pending one), 0 unchanged, 1 not found, 0 refused") ||
		!strings.Contains(out, "not found: NOBODY") {
		t.Fatalf("extend --file: %d %q %q", code, out, errs)
	}
	// The end waits for the card.
	if code, out, _ := runCmd(t, "account", "show", "--data", dir, "S2026001"); code != 0 || !strings.Contains(out, "valid until 20300831") {
		t.Fatalf("show before the card write: %s", out)
	}
	write("S2026001 20320831\nS2026002 2032-08-31\n")
	if code, _, errs := runCmd(t, "account", "extend", "--data", dir, "--file", file); code != 1 || !strings.Contains(errs, "line 2") ||
		!strings.Contains(errs, "nothing changed") {
		t.Fatalf("malformed line: %d %q", code, errs)
	}
	if code, _, _ := runCmd(t, "account", "extend", "--data", dir, "--file", file, "S2026001"); code != 2 {
		t.Errorf("--file with arguments: exit %d", code)
	}
	if code, _, _ := runCmd(t, "account", "extend", "--data", dir, "--file", filepath.Join(dir, "missing")); code != 1 {
		t.Errorf("a missing file: exit %d", code)
	}
	_, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0")
	write("S2026001 20320831\nS2026002 20310831\n")
	code, out, errs = runCmd(t, "account", "extend", "--data", dir, "--file", file)
	if code != 0 || !strings.Contains(out, "2 lines: 1 extended (card writes pending; 1 replaced a pending one), 1 unchanged, 0 not found, 0 refused") {
		t.Fatalf("extend --file through serve: %d %q %q", code, out, errs)
	}
	stop()
	l, err := ledger.Open(dir, ledger.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ws, err := l.PendingWrites("10012026090100000001")
	if err != nil || len(ws) != 1 || ws[0].Values.ValidUntil != "20320831" {
		t.Fatalf("pending writes %+v %v", ws, err)
	}
}
