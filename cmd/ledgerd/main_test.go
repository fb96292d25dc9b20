package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// startServe runs "ledgerd serve" with args until the test calls stop,
// which fails the test if serve does not stop cleanly; it returns the
// address serve listens on.
func startServe(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	addr, _, stop = startServeOut(t, args...)
	return addr, stop
}

// startServeOut is startServe that also returns what serve printed on
// stdout by the time it was ready.
func startServeOut(t *testing.T, args ...string) (addr, stdout string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // a test that fails before stop still ends serve
	addrc, done := make(chan string, 1), make(chan error, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- serve(ctx, args, &out, &errb, func(a string) { addrc <- a })
	}()
	select {
	case addr = <-addrc: // serve wrote its stdout before it said ready
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve not ready")
	}
	return addr, out.String(), func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop")
		}
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"token"}, 2},
		{[]string{"token", "new", "--data", dir}, 2},
		{[]string{"status", "add", "--data", dir, "123", "misplaced"}, 2},
		{[]string{"load", "add", "--data", dir, "123", "-5"}, 2},
		{[]string{"report"}, 2},
		{[]string{"report", "--data", dir, "extra"}, 2},
		{[]string{"report", "--data", filepath.Join(dir, "none")}, 1},
		{[]string{"serve", "--data", dir, "--tls-cert", "x"}, 2},
		{[]string{"version"}, 0},
		{[]string{"report", "-h"}, 0},
	} {
		if code, _, stderr := runCmd(t, tc.args...); code != tc.code {
			t.Errorf("%q: exit %d, want %d (%s)", tc.args, code, tc.code, stderr)
		}
	}
}

func TestOperatorCommands(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := runCmd(t, "init", "--data", dir); code != 0 || !strings.Contains(out, "kid ledger-") {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	code, out, _ := runCmd(t, "keys", "--data", dir)
	kid, _, err := ledger.ReadPublicKey(dir)
	if code != 0 || err != nil || !strings.Contains(out, "kid "+kid) {
		t.Fatalf("keys: %d %q %v", code, out, err)
	}
	code, out, _ = runCmd(t, "keys", "--data", dir, "--pem")
	pk, err := protocol.DecodePublicKeyPEM([]byte(out))
	if code != 0 || err != nil || pk.KeyID != kid || pk.Alg != protocol.AlgEd25519 {
		t.Errorf("keys --pem: %d %+v %v", code, pk, err)
	}
	if st, err := os.Stat(filepath.Join(dir, ledger.KeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file %v %v", st.Mode(), err)
	}
	code, out, _ = runCmd(t, "token", "new", "--data", dir, "--device", "pos-7", "--kind", "pos")
	if code != 0 || !strings.HasPrefix(out, "ykt1-") {
		t.Fatalf("token: %d %q", code, out)
	}
	steps := [][]string{
		{"load", "add", "--data", dir, "10012026090100000001", "5000"},
		{"load", "add", "--data", dir, "10012026090100000001", "700"},
		{"load", "cancel", "--data", dir, "2"},
		{"status", "add", "--data", dir, "10012026090100000002", "lost"},
		{"status", "add", "--data", dir, "10012026090100000003", "frozen"},
		{"status", "remove", "--data", dir, "10012026090100000003"},
		{"rules", "set", "--data", dir, filepath.Join("..", "..", "ledger", "testdata", "rules-example.json")},
		{"device", "revoke", "--data", dir, "pos-7"},
	}
	for _, s := range steps {
		if code, out, errs := runCmd(t, s...); code != 0 {
			t.Fatalf("%q: %d %s %s", s, code, out, errs)
		}
	}
	code, out, _ = runCmd(t, "report", "--data", dir, "--json")
	var rep ledger.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.StatusVersion != 4 || len(rep.Devices) != 1 || rep.Devices[0].Revoked.IsZero() {
		t.Fatalf("report: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, "device", "list", "--data", dir); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("device list: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, "load", "list", "--data", dir, "10012026090100000001"); code != 0 || !strings.Contains(out, "50.00") || strings.Contains(out, "7.00") {
		t.Errorf("load list: %d %s", code, out)
	}
	if code, _, _ := runCmd(t, "load", "cancel", "--data", dir, "2"); code != 1 {
		t.Errorf("cancelling a cancelled load: exit %d", code)
	}
	if code, _, _ := runCmd(t, "status", "remove", "--data", dir, "NOTLISTED"); code != 1 {
		t.Errorf("removing an unlisted card: exit %d", code)
	}
}

// TestServe runs "ledgerd serve" on a loopback port: a device enrols over
// HTTP with a token made by "ledgerd token new" through the admin socket
// while the server holds the database.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0")
	code, tok, errs := runCmd(t, "token", "new", "--data", dir, "--device", "kiosk-1", "--kind", "kiosk")
	if code != 0 {
		t.Fatalf("token new while serving: %d %s", code, errs)
	}
	d := ledgertest.NewDevice(t, "kiosk-1")
	req := d.Seal(t, &protocol.EnrolRequest{DeviceID: "kiosk-1", Token: strings.TrimSpace(tok), PublicKey: d.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: protocol.DeviceKiosk})
	resp, err := http.Post("http://"+addr+"/v1/enrol", ledger.ContentTypeCOSE, bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enrol: HTTP %d", resp.StatusCode)
	}
	if code, out, _ := runCmd(t, "device", "list", "--data", dir); code != 0 || !strings.Contains(out, "kiosk-1") || !strings.Contains(out, "enrolled") {
		t.Errorf("device list while serving: %d %s", code, out)
	}
	for _, args := range [][]string{
		{"load", "add", "--data", dir, "10012026090100000001", "1500"},
		{"status", "add", "--data", dir, "10012026090100000002", "lost"},
		{"device", "revoke", "--data", dir, "kiosk-1"},
	} {
		if code, out, errs := runCmd(t, args...); code != 0 {
			t.Fatalf("%q while serving: %d %s %s", args, code, out, errs)
		}
	}
	if code, _, _ := runCmd(t, "load", "cancel", "--data", dir, "99"); code != 1 {
		t.Errorf("cancel of an unknown load through the socket: exit %d", code)
	}
	code, repOut, _ := runCmd(t, "report", "--data", dir, "--json")
	var rep ledger.Report
	if code != 0 || json.Unmarshal([]byte(repOut), &rep) != nil || rep.StatusCards != 1 || len(rep.Devices) != 1 || rep.Devices[0].Revoked.IsZero() {
		t.Errorf("report through the socket: %d %s", code, repOut)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, ledger.AdminSocket)); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
}
