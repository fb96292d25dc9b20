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

// enrolPSAM enrols d at the ledger on addr with tok and the PSAM terminal
// id tid, and returns the ledger's answer.
func enrolPSAM(t *testing.T, addr string, d *ledgertest.Device, tok string, tid []byte, ledgerKeys protocol.KeySet) protocol.EnrolResponse {
	t.Helper()
	req := d.Seal(t, &protocol.EnrolRequest{DeviceID: d.ID, Token: strings.TrimSpace(tok), PublicKey: d.Signer.PublicKey().Key,
		Alg: protocol.AlgEd25519, Kind: protocol.DevicePOS, TerminalID: tid})
	resp, err := http.Post("http://"+addr+"/v1/enrol", ledger.ContentTypeCOSE, bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enrol %s: HTTP %d", d.ID, resp.StatusCode)
	}
	er, err := protocol.OpenEnrolResponse(ledgerKeys, body.Bytes(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return er
}

// TestPSAMRebindCommand (issue 16): a second device enrolled with a PSAM
// already bound is held; `device list`, `alerts` and `report` show it;
// `device rebind` through the serving ledger's admin socket moves the
// binding and lifts the hold; a bad --terminal is a usage error, an
// unknown device a failure.
func TestPSAMRebindCommand(t *testing.T) {
	dir := t.TempDir()
	kid, pub, err := ledger.ReadPublicKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := protocol.NewKeys(protocol.PublicKey{KeyID: kid, Alg: protocol.AlgEd25519, Key: pub})
	addr, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0") // stopped below; a failure before ends it at cleanup
	tid := []byte{0, 0, 0, 0, 0x0a, 0x01}
	for i, id := range []string{"pos-a", "pos-b"} {
		_, tok, errs := runCmd(t, "token", "new", "--data", dir, "--device", id)
		if r := enrolPSAM(t, addr, ledgertest.NewDevice(t, id), tok, tid, keys); (r.Held != 0) != (i == 1) {
			t.Fatalf("%s enrolled: held %v (%s)", id, r.Held, errs)
		}
	}
	code, out, _ := runCmd(t, "device", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "HELD psam-moved") || !strings.Contains(out, "000000000a01 (enrolment)") {
		t.Fatalf("device list: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, "alerts", "--data", dir); code != 0 || !strings.Contains(out, "psam-moved: device pos-b") || !strings.Contains(out, "other device pos-a") {
		t.Errorf("alerts: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, "report", "--data", dir); code != 0 || !strings.Contains(out, "HELD pos-b since") || !strings.Contains(out, "ledgerd device rebind pos-b") {
		t.Errorf("report: %d %s", code, out)
	}
	if code, _, _ := runCmd(t, "device", "rebind", "--data", dir, "--terminal", "zz", "pos-b"); code != 2 {
		t.Errorf("rebind --terminal zz: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "device", "rebind", "--data", dir, "pos-404"); code != 1 {
		t.Errorf("rebind of an unknown device: exit %d, want 1", code)
	}
	code, out, errs := runCmd(t, "device", "rebind", "--data", dir, "pos-b")
	if code != 0 || !strings.Contains(out, "PSAM 000000000a01 bound") {
		t.Fatalf("device rebind: %d %s %s", code, out, errs)
	}
	code, out, _ = runCmd(t, "device", "list", "--data", dir)
	if code != 0 || strings.Contains(out, "HELD") || !strings.Contains(out, "000000000a01 (rebind)") || !strings.Contains(out, "moved to pos-b") {
		t.Fatalf("device list after the rebind: %d %s", code, out)
	}
	if code, out, _ := runCmd(t, "alerts", "--data", dir); code != 0 || !strings.Contains(out, "psam-rebound: device pos-b terminal 000000000a01 bound - other device pos-a") {
		t.Errorf("alerts after the rebind: %d %s", code, out)
	}
	stop()
	// Without a serving ledger the command opens the database itself.
	if code, out, errs := runCmd(t, "device", "rebind", "--data", dir, "--terminal", "000000000B02", "pos-a"); code != 0 || !strings.Contains(out, "000000000b02") {
		t.Fatalf("device rebind without serve: %d %s %s", code, out, errs)
	}
}
