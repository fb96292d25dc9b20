package ledger_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

func enrolReq(t *testing.T, d *ledgertest.Device, token string, kind protocol.DeviceKind) []byte {
	t.Helper()
	return d.Seal(t, &protocol.EnrolRequest{DeviceID: d.ID, Token: token, PublicKey: d.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: kind})
}

func TestEnrol(t *testing.T) {
	tl, clk := start(t)
	tok, _, err := tl.NewToken("pos-1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	d := ledgertest.NewDevice(t, "pos-1")
	status, body := tl.Post(t, "/v1/enrol", enrolReq(t, d, tok, protocol.DevicePOS))
	if status != http.StatusOK {
		t.Fatalf("enrol: %d %v", status, ledgertest.ErrorOf(body))
	}
	resp, err := protocol.OpenEnrolResponse(tl.Keys(), body, "pos-1")
	if err != nil {
		t.Fatal(err)
	}
	if resp.LedgerKeyID != tl.KeyID() || resp.ServerTime != clk.Now().UnixMilli() {
		t.Errorf("response %+v", resp)
	}
	// The same device retrying with the same token and key (answer lost): OK again.
	if status, _ := tl.Post(t, "/v1/enrol", enrolReq(t, d, tok, protocol.DevicePOS)); status != http.StatusOK {
		t.Errorf("retry of the same enrolment: %d", status)
	}
	// The token used a second time with another key: refused, key unchanged.
	other := ledgertest.NewDevice(t, "pos-1")
	status, body = tl.Post(t, "/v1/enrol", enrolReq(t, other, tok, protocol.DevicePOS))
	if status != http.StatusForbidden {
		t.Errorf("second use: HTTP %d", status)
	}
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeTokenInvalid)
	if got := device(t, tl, "pos-1"); string(got.PublicKey) != string(d.Signer.PublicKey().Key) || got.Kind != "pos" {
		t.Errorf("device after a refused second use: %+v", got)
	}

	tests := []struct {
		name string
		msg  func() []byte
		code protocol.Code
	}{
		{"unknown token", func() []byte {
			return enrolReq(t, ledgertest.NewDevice(t, "pos-2"), "ykt1-00", protocol.DevicePOS)
		}, protocol.CodeTokenInvalid},
		{"token of another device", func() []byte {
			tok, _, _ := tl.NewToken("pos-3", "pos")
			return enrolReq(t, ledgertest.NewDevice(t, "pos-4"), tok, protocol.DevicePOS)
		}, protocol.CodeTokenInvalid},
		{"token of another kind", func() []byte {
			tok, _, _ := tl.NewToken("gate-1", "gate")
			return enrolReq(t, ledgertest.NewDevice(t, "gate-1"), tok, protocol.DeviceKiosk)
		}, protocol.CodeTokenInvalid},
		{"expired token", func() []byte {
			tok, _, _ := tl.NewToken("pos-5", "pos")
			clk.Advance(25 * time.Hour)
			return enrolReq(t, ledgertest.NewDevice(t, "pos-5"), tok, protocol.DevicePOS)
		}, protocol.CodeTokenInvalid},
		{"signed by another key than the one enrolled", func() []byte {
			tok, _, _ := tl.NewToken("pos-6", "pos")
			d, k := ledgertest.NewDevice(t, "pos-6"), ledgertest.NewDevice(t, "pos-6")
			return d.Seal(t, &protocol.EnrolRequest{DeviceID: "pos-6", Token: tok, PublicKey: k.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: protocol.DevicePOS})
		}, protocol.CodeBadSignature},
		{"not COSE", func() []byte { return []byte("hello") }, protocol.CodeMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tl.Post(t, "/v1/enrol", tc.msg())
			e := ledgertest.ErrorOf(body)
			wantCode(t, e, tc.code)
			if status < 400 {
				t.Errorf("HTTP %d", status)
			}
		})
	}
	for _, id := range []string{"pos-2", "pos-4", "pos-5", "pos-6"} {
		if d, err := tl.Device(id); err == nil && d.PublicKey != nil {
			t.Errorf("%s enrolled by a refused request", id)
		}
	}
}

func TestRevokedDeviceGetsNothing(t *testing.T) {
	tl, _ := start(t)
	d := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	if err := tl.Revoke("kiosk-1"); err != nil {
		t.Fatal(err)
	}
	status, body := tl.Post(t, "/v1/status", d.Seal(t, &protocol.StatusRequest{DeviceID: d.ID}))
	if status != http.StatusForbidden {
		t.Errorf("HTTP %d", status)
	}
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeRevoked)
	if _, _, err := tl.NewToken("kiosk-1", "kiosk"); !errors.Is(err, ledger.ErrRevoked) {
		t.Errorf("token for a revoked device: %v", err)
	}
	// An unenrolled device gets nothing either.
	u := ledgertest.NewDevice(t, "stranger")
	_, body = tl.Post(t, "/v1/status", u.Seal(t, &protocol.StatusRequest{DeviceID: u.ID}))
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeUnknownDevice)
}

func TestSecondOpenFails(t *testing.T) {
	tl, _ := start(t)
	_, err := ledger.Open(tl.Dir, ledger.Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ledger.ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
}
