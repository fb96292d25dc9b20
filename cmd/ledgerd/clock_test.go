package main

import (
	"strings"
	"testing"
)

// TestServeClockOffset: serve --clock-offset runs the ledger's clock ahead
// of the system's, so a reissued card's 24 hours can pass in a drill: the
// old card's wait shows in account show only on a ledger whose clock is
// ahead by a day.
func TestServeClockOffset(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, "init", "--data", dir); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runCmd(t, "serve", "--data", dir, "--clock-offset", "x"); code != 2 {
		t.Errorf("--clock-offset x: exit %d (%s)", code, errs)
	}
	for _, c := range [][]string{
		{"account", "add", "--data", dir, "--card", "10012026090100000001", "S2026001"},
		{"account", "reissue", "--data", dir, "S2026001", "10012026090100000009"},
	} {
		if code, out, errs := runCmd(t, c...); code != 0 {
			t.Fatalf("%v: %d %s %s", c, code, out, errs)
		}
	}
	_, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0")
	code, out, errs := runCmd(t, "account", "show", "--data", dir, "S2026001")
	if code != 0 || !strings.Contains(out, "the balance moves after 24h0m0s") {
		t.Fatalf("account show right after the reissue: %d %s %s", code, out, errs)
	}
	stop()
	_, stop = startServe(t, "--data", dir, "--listen", "127.0.0.1:0", "--clock-offset", "24h1m")
	defer stop()
	code, out, errs = runCmd(t, "account", "show", "--data", dir, "S2026001")
	if code != 0 || strings.Contains(out, "the balance moves after") || !strings.Contains(out, "old card 10012026090100000001: the ledger holds no verified record") {
		t.Fatalf("account show a day later: %d %s %s", code, out, errs)
	}
}
