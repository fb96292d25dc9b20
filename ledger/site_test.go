package ledger_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// siteEnrol posts an enrolment of d naming site over HTTP.
func siteEnrol(t *testing.T, tl *ledgertest.Ledger, d *ledgertest.Device, tok, site string) (int, *protocol.Error) {
	t.Helper()
	status, body := tl.Post(t, "/v1/enrol", d.Seal(t, &protocol.EnrolRequest{DeviceID: d.ID, Token: tok,
		PublicKey: d.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: protocol.DevicePOS, Site: site}))
	if status == http.StatusOK {
		return status, nil
	}
	return status, ledgertest.ErrorOf(body)
}

// TestSiteBinding (issue 16): the enrolment binds the device to the site
// it names; a token for a site enrols only a device there; an enrolled
// device that says it is elsewhere is refused with an alert unless a token
// for the new site, or a rekey, authorises the move.
func TestSiteBinding(t *testing.T) {
	tl, _ := start(t)
	d := ledgertest.NewDevice(t, "pos-1")

	tok, _, err := tl.NewSiteToken("pos-1", "pos", "canteen-2")
	if err != nil {
		t.Fatal(err)
	}
	if status, e := siteEnrol(t, tl, d, tok, "canteen-3"); status != http.StatusForbidden || e == nil || e.Code != protocol.CodeTokenInvalid {
		t.Fatalf("token for canteen-2 used at canteen-3: HTTP %d %v", status, e)
	}
	if dev := device(t, tl, "pos-1"); dev.PublicKey != nil {
		t.Fatal("a refused enrolment enrolled the device")
	}
	if status, e := siteEnrol(t, tl, d, tok, "canteen-2"); status != http.StatusOK {
		t.Fatalf("enrolment at the token's site: HTTP %d %v", status, e)
	}
	if dev := device(t, tl, "pos-1"); dev.Site != "canteen-2" {
		t.Fatalf("site %q, want canteen-2", dev.Site)
	}
	// The answer lost: the same token and key again, same site.
	if status, e := siteEnrol(t, tl, d, tok, "canteen-2"); status != http.StatusOK {
		t.Fatalf("retry of the enrolment: HTTP %d %v", status, e)
	}

	// A plain token does not authorise a move.
	plain, _, err := tl.NewToken("pos-1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	if status, e := siteEnrol(t, tl, d, plain, "library-1"); status != http.StatusForbidden || e == nil || e.Code != protocol.CodeTokenInvalid {
		t.Fatalf("move with a plain token: HTTP %d %v", status, e)
	}
	alerts, err := tl.Alerts()
	if err != nil || countKind(alerts, ledger.AlertSiteMoved) != 1 {
		t.Fatalf("alerts %+v %v, want one site-moved", alerts, err)
	}
	for _, a := range alerts {
		if a.Kind == ledger.AlertSiteMoved && (a.Site != "library-1" || a.BoundSite != "canteen-2" || a.Device != "pos-1") {
			t.Errorf("site-moved alert %+v", a)
		}
	}
	if dev := device(t, tl, "pos-1"); dev.Site != "canteen-2" {
		t.Fatalf("a refused move moved the device to %q", dev.Site)
	}
	// The same plain token at the bound site still works (it was not spent).
	if status, e := siteEnrol(t, tl, d, plain, "canteen-2"); status != http.StatusOK {
		t.Fatalf("plain token at the bound site: HTTP %d %v", status, e)
	}

	// A token for the new site moves it.
	move, _, err := tl.NewSiteToken("pos-1", "pos", "library-1")
	if err != nil {
		t.Fatal(err)
	}
	if status, e := siteEnrol(t, tl, d, move, "library-1"); status != http.StatusOK {
		t.Fatalf("authorised move: HTTP %d %v", status, e)
	}
	if dev := device(t, tl, "pos-1"); dev.Site != "library-1" {
		t.Fatalf("site %q after the move, want library-1", dev.Site)
	}
	// So does a rekey (the operator re-provisions the device elsewhere).
	rk, _, err := tl.Rekey("pos-1")
	if err != nil {
		t.Fatal(err)
	}
	fresh := ledgertest.NewDevice(t, "pos-1")
	if status, e := siteEnrol(t, tl, fresh, rk, "gym-1"); status != http.StatusOK {
		t.Fatalf("rekey at another site: HTTP %d %v", status, e)
	}
	if dev := device(t, tl, "pos-1"); dev.Site != "gym-1" {
		t.Fatalf("site %q after the rekey, want gym-1", dev.Site)
	}
	if alerts, _ := tl.Alerts(); countKind(alerts, ledger.AlertSiteMoved) != 1 {
		t.Errorf("authorised moves raised alerts: %+v", alerts)
	}
	if _, _, err := tl.NewSiteToken("pos-9", "pos", "bad site!"); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("token for an invalid site: %v, want ErrInvalid", err)
	}
}
