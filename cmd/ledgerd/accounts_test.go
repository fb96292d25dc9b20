package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountCommands: the account commands directly on the database and
// through the admin socket while serve runs; the PIN and the ID number
// come on stdin and appear nowhere in the output or the data directory.
func TestAccountCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, "init", "--data", dir); code != 0 {
		t.Fatal(errs)
	}
	const pin, idNo = "246813", "11010519491231002X"
	stdin = strings.NewReader(pin + "\n" + idNo + "\n")
	t.Cleanup(func() { stdin = os.Stdin })
	code, out, errs := runCmd(t, "account", "add", "--data", dir, "--card", "10012026090100000001", "--valid-until", "20300831",
		"--bank", "6222000000000001", "--pin-stdin", "--national-id-stdin", "S2026001")
	if code != 0 || !strings.Contains(out, "account S2026001: card 10012026090100000001, normal") || !strings.Contains(out, "PIN set true") ||
		!strings.Contains(out, "ID number set true") {
		t.Fatalf("account add: %d %q %q", code, out, errs)
	}
	if code, _, _ := runCmd(t, "account", "add", "--data", dir, "S2026002"); code != 2 {
		t.Errorf("account add without --card: exit %d", code)
	}
	addr, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0")
	_ = addr
	for _, c := range [][]string{
		{"account", "topup", "--data", dir, "--ref", "alipay 42", "S2026001", "5000"},
		{"account", "set", "--data", dir, "--tx-limit", "3000", "S2026001"},
		{"account", "extend", "--data", dir, "S2026001", "20310831"},
		{"account", "reissue", "--data", dir, "S2026001", "10012026090100000009"},
	} {
		if code, out, errs := runCmd(t, c...); code != 0 {
			t.Fatalf("%v: %d %s %s", c, code, out, errs)
		}
	}
	code, out, errs = runCmd(t, "account", "show", "--data", dir, "10012026090100000001") // by the old card
	if code != 0 || !strings.Contains(out, "card 10012026090100000009") || !strings.Contains(out, "for loading 50.00") ||
		!strings.Contains(out, "old card 10012026090100000001 cancelled") || !strings.Contains(out, "topup") ||
		!strings.Contains(out, "per-transaction limit 30.00") || !strings.Contains(out, "valid until 20310831") {
		t.Fatalf("account show: %d %s %s", code, out, errs)
	}
	if code, _, _ := runCmd(t, "account", "set", "--data", dir, "S2026001"); code != 2 {
		t.Errorf("account set with nothing to change: exit %d", code)
	}
	if code, _, errs := runCmd(t, "account", "topup", "--data", dir, "nobody", "100"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("topup of an unknown account: %d %s", code, errs)
	}
	code, out, _ = runCmd(t, "status", "remove", "--data", dir, "10012026090100000001")
	if code != 0 {
		t.Errorf("the old card was not on the status list: %s", out)
	}
	stop()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), pin) || strings.Contains(string(b), idNo) {
			t.Errorf("%s holds the PIN or the ID number", p)
		}
		return nil
	})
}
