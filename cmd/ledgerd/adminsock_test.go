package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
)

// TestStaleAdminSocket: a socket left by a ledger that was killed (nobody
// listens on it) does not stop the operator's commands: they open the
// database themselves.
func TestStaleAdminSocket(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t, "init", "--data", dir); code != 0 {
		t.Fatal(errs)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, ledger.AdminSocket), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if code, out, errs := runCmd(t, "status", "add", "--data", dir, "10012026090100000001", "lost"); code != 0 || !strings.Contains(out, "version 2") {
		t.Fatalf("status add beside a stale socket: %d %s %s", code, out, errs)
	}
}
