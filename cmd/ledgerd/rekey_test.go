package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// enrolHTTP enrols d at the ledger on addr with tok and returns the HTTP
// status.
func enrolHTTP(t *testing.T, addr string, d *ledgertest.Device, tok string) int {
	t.Helper()
	req := d.Seal(t, &protocol.EnrolRequest{DeviceID: d.ID, Token: strings.TrimSpace(tok), PublicKey: d.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: protocol.DevicePOS})
	resp, err := http.Post("http://"+addr+"/v1/enrol", ledger.ContentTypeCOSE, bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRekeyAndFingerprint (issue 10.6): the ledger key's fingerprint is
// shown where a technician needs it (serve, token new, device rekey, keys);
// a fresh token does not rebind an enrolled device's key (the alert shows
// in `ledgerd alerts` and the report), `device rekey` does, once.
func TestRekeyAndFingerprint(t *testing.T) {
	dir := t.TempDir()
	_, pub, err := ledger.ReadPublicKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fp := protocol.Fingerprint(pub)
	if code, out, _ := runCmd(t, "keys", "--data", dir, "--fingerprint"); code != 0 || strings.TrimSpace(out) != fp {
		t.Errorf("keys --fingerprint: %d %q, want %s", code, out, fp)
	}
	if code, out, _ := runCmd(t, "keys", "--data", dir); code != 0 || !strings.Contains(out, "fingerprint "+fp) {
		t.Errorf("keys: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, "keys", "--data", dir, "--pem", "--fingerprint"); code != 2 {
		t.Errorf("keys --pem --fingerprint: exit %d, want 2", code)
	}
	addr, out, stop := startServeOut(t, "--data", dir, "--listen", "127.0.0.1:0")
	defer stop()
	if !strings.Contains(out, fp) {
		t.Errorf("serve does not show the key's fingerprint: %q", out)
	}
	code, tok, errs := runCmd(t, "token", "new", "--data", dir, "--device", "pos-1")
	if code != 0 || !strings.Contains(errs, fp) {
		t.Fatalf("token new: %d, stderr %q: want the fingerprint", code, errs)
	}
	first := ledgertest.NewDevice(t, "pos-1")
	if st := enrolHTTP(t, addr, first, tok); st != http.StatusOK {
		t.Fatalf("enrol: HTTP %d", st)
	}
	_, tok2, _ := runCmd(t, "token", "new", "--data", dir, "--device", "pos-1")
	if st := enrolHTTP(t, addr, ledgertest.NewDevice(t, "pos-1"), tok2); st != http.StatusForbidden {
		t.Errorf("another key with a fresh token: HTTP %d, want 403", st)
	}
	if code, out, _ := runCmd(t, "alerts", "--data", dir); code != 0 || !strings.Contains(out, "rebind-refused") || !strings.Contains(out, "pos-1") {
		t.Errorf("alerts: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, "report", "--data", dir); code != 0 || !strings.Contains(out, "rebind-refused") {
		t.Errorf("report: %d %q", code, out)
	}
	code, rk, errs := runCmd(t, "device", "rekey", "--data", dir, "pos-1")
	if code != 0 || !strings.HasPrefix(rk, "ykt1-") || !strings.Contains(errs, fp) {
		t.Fatalf("device rekey: %d %q %q", code, rk, errs)
	}
	second := ledgertest.NewDevice(t, "pos-1")
	if st := enrolHTTP(t, addr, second, rk); st != http.StatusOK {
		t.Fatalf("enrol with the rekey token: HTTP %d", st)
	}
	if code, out, _ := runCmd(t, "device", "list", "--data", dir); code != 0 || !strings.Contains(out, "re-keyed") {
		t.Errorf("device list: %d %q", code, out)
	}
	if code, _, _ := runCmd(t, "device", "rekey", "--data", dir, "pos-404"); code != 1 {
		t.Errorf("rekey of an unknown device: exit %d, want 1", code)
	}
	if code, _, _ := runCmd(t, "device", "revoke", "--data", dir, "pos-1"); code != 0 {
		t.Fatal("revoke")
	}
	if code, _, errs := runCmd(t, "device", "rekey", "--data", dir, "pos-1"); code != 1 || !strings.Contains(errs, "new device id") {
		t.Errorf("rekey of a revoked device: exit %d %q", code, errs)
	}
}
