package ledger_test

import (
	"fmt"
	"testing"

	"github.com/openykt/yktd/protocol"
)

// TestRefusalsAndSightings (issue 11.5): purchase-refused records count
// per device and reason; a listed card (lost, frozen, cancelled) refused
// at a POS or denied at a gate is a sighting in the report; the reasons a
// device can make up are bounded.
func TestRefusalsAndSightings(t *testing.T) {
	tl, _ := start(t)
	pos := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	gate := tl.Enrol(t, "gate-1", protocol.DeviceGate)
	const lost = "10012026090100000002"
	recs := []protocol.Record{
		{Kind: protocol.KindPurchaseRefused, CardNo: lost, Amount: 1200, Reason: "lost"},
		{Kind: protocol.KindPurchaseRefused, CardNo: "10012026090100000004", Amount: 1200, Reason: "insufficient", BalanceBefore: 300},
		{Kind: protocol.KindPurchaseRefused, CardNo: "10012026090100000005", Reason: "cancelled"},
		{Kind: protocol.KindPurchaseRefused, Reason: "no-status-list"},
	}
	for i := range 40 { // a device inventing reasons
		recs = append(recs, protocol.Record{Kind: protocol.KindPurchaseRefused, Reason: fmt.Sprintf("made-up-%d", i)})
	}
	if _, e := upload(t, tl, pos, appendRecords(t, device(t, tl, "pos-1"), recs...)); e != nil {
		t.Fatal(e)
	}
	if _, e := upload(t, tl, gate, appendRecords(t, device(t, tl, "gate-1"),
		protocol.Record{Kind: protocol.KindGateDenied, CardNo: lost, Credential: "card", Reason: "lost"},
		protocol.Record{Kind: protocol.KindGateDenied, CardNo: lost, Credential: "card", Reason: "anti_passback"},
	)); e != nil {
		t.Fatal(e)
	}
	st := device(t, tl, "pos-1").Stats
	if st.Refusals["lost"] != 1 || st.Refusals["insufficient"] != 1 || st.Refusals["no-status-list"] != 1 || len(st.Refusals) > 33 || st.Refusals["other"] == 0 {
		t.Errorf("refusals %v", st.Refusals)
	}
	rep, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Sightings {
		got = append(got, fmt.Sprintf("%s %s %s %s %d", s.Device, s.Kind, s.Reason, s.CardNo, s.Seq))
	}
	want := []string{
		"pos-1 purchase-refused lost " + lost + " 1",
		"pos-1 purchase-refused cancelled 10012026090100000005 3",
		"gate-1 gate-denied lost " + lost + " 1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sightings %q, want %q", got, want)
	}
}
