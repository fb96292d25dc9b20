package ledger_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// TestFreshTokenDoesNotRebind (issue 10.6): an enrolled device's key is
// not replaced by whoever holds a fresh token for its id: the enrolment is
// refused (token-invalid), the enrolled key stays and an alert is raised.
func TestFreshTokenDoesNotRebind(t *testing.T) {
	tl, _ := start(t)
	d := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tok, _, err := tl.NewToken("pos-1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	thief := ledgertest.NewDevice(t, "pos-1")
	status, body := tl.Post(t, "/v1/enrol", enrolReq(t, thief, tok, protocol.DevicePOS))
	if status != http.StatusForbidden {
		t.Errorf("rebind with a fresh token: HTTP %d, want 403", status)
	}
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeTokenInvalid)
	if got := device(t, tl, "pos-1"); !bytes.Equal(got.PublicKey, d.Signer.PublicKey().Key) {
		t.Fatal("the enrolled key was replaced")
	}
	alerts, err := tl.Alerts()
	if err != nil || countKind(alerts, "rebind-refused") != 1 {
		t.Errorf("alerts %+v %v, want one rebind-refused", alerts, err)
	}
	// The enrolled device itself may use the fresh token (same key): a
	// device that lost the ledger's answer, or its ledger.pub.
	if status, body := tl.Post(t, "/v1/enrol", enrolReq(t, d, tok, protocol.DevicePOS)); status != http.StatusOK {
		t.Errorf("same key with a fresh token: HTTP %d %v", status, ledgertest.ErrorOf(body))
	}
}
