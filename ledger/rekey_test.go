package ledger_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger"
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
	if err != nil || countKind(alerts, ledger.AlertRebind) != 1 {
		t.Errorf("alerts %+v %v, want one rebind-refused", alerts, err)
	}
	// The enrolled device itself may use the fresh token (same key): a
	// device that lost the ledger's answer, or its ledger.pub.
	if status, body := tl.Post(t, "/v1/enrol", enrolReq(t, d, tok, protocol.DevicePOS)); status != http.StatusOK {
		t.Errorf("same key with a fresh token: HTTP %d %v", status, ledgertest.ErrorOf(body))
	}
}

// TestRekey: `ledgerd device rekey` authorises the next enrolment of the
// device to take a new key: the old key is refused from then on, the new
// key continues the device's journal. Only an enrolled, not revoked device
// is re-keyed.
func TestRekey(t *testing.T) {
	tl, _ := start(t)
	old := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.gate(3)
	if _, e := upload(t, tl, old, tm.batch(1, 1, 2)); e != nil {
		t.Fatal(e)
	}
	tok, _, err := tl.Rekey("pos-1")
	if err != nil {
		t.Fatal(err)
	}
	// A rekey token is single use and for this device only.
	if status, _ := tl.Post(t, "/v1/enrol", enrolReq(t, ledgertest.NewDevice(t, "pos-2"), tok, protocol.DevicePOS)); status != http.StatusForbidden {
		t.Errorf("rekey token of pos-1 used by pos-2: HTTP %d", status)
	}
	fresh := ledgertest.NewDevice(t, "pos-1")
	if status, body := tl.Post(t, "/v1/enrol", enrolReq(t, fresh, tok, protocol.DevicePOS)); status != http.StatusOK {
		t.Fatalf("enrolment with the rekey token: HTTP %d %v", status, ledgertest.ErrorOf(body))
	}
	d := device(t, tl, "pos-1")
	if !bytes.Equal(d.PublicKey, fresh.Signer.PublicKey().Key) || d.Rekeyed.IsZero() || d.HighWater != 2 || d.Kind != "pos" {
		t.Fatalf("device after rekey %+v", d)
	}
	if _, e := upload(t, tl, old, tm.batch(2, 3, 3)); e == nil || e.Code != protocol.CodeBadSignature {
		t.Errorf("old key after rekey: %v, want bad-signature", e)
	}
	if ack, e := upload(t, tl, fresh, tm.batch(2, 3, 3)); e != nil || ack.AckedThrough != 3 {
		t.Errorf("new key continues the journal: %+v %v", ack, e)
	}
	if status, _ := tl.Post(t, "/v1/enrol", enrolReq(t, ledgertest.NewDevice(t, "pos-1"), tok, protocol.DevicePOS)); status != http.StatusForbidden {
		t.Errorf("rekey token used twice: HTTP %d", status)
	}
	if alerts, _ := tl.Alerts(); countKind(alerts, ledger.AlertRebind) != 0 {
		t.Errorf("an authorised rekey raised an alert: %+v", alerts)
	}

	if _, _, err := tl.NewToken("pos-3", "pos"); err != nil {
		t.Fatal(err)
	}
	if err := tl.Revoke("pos-1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want error
	}{{"pos-1", ledger.ErrRevoked}, {"pos-3", ledger.ErrInvalid}, {"pos-404", ledger.ErrNotFound}} {
		if _, _, err := tl.Rekey(c.id); !errors.Is(err, c.want) {
			t.Errorf("rekey %s: %v, want %v", c.id, err, c.want)
		}
	}
}
