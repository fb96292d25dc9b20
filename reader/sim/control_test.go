package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

func do(t *testing.T, h http.Handler, method, path, body string, wantCode int, out any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != wantCode {
		t.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, wantCode)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func TestControl(t *testing.T) {
	r := newRig(t, "student")
	ctl := sim.NewControl()
	ctl.AddCard("student", r.card)
	ctl.AddCard("psam", sim.NewDemoPSAM())
	ctl.AddReader(r.reader)

	var cards []sim.CardInfo
	do(t, ctl, "GET", "/cards", "", 200, &cards)
	if len(cards) != 2 || cards[0].Name != "psam" || cards[0].Kind != "psam" || cards[1].Status.Balance != 10000 {
		t.Fatalf("cards %+v", cards)
	}
	var ri sim.ReaderInfo
	do(t, ctl, "POST", "/readers/sim:0/tap", `{"card":"student"}`, 200, &ri)
	if ri.Card != "student" {
		t.Fatalf("tap: %+v", ri)
	}
	e := <-r.events
	if e.Kind != reader.CardPresent {
		t.Fatalf("event %v", e)
	}
	var ci sim.CardInfo
	do(t, ctl, "POST", "/cards/student/faults", `{"kind":"tear-after","ins":"debit","nth":1}`, 200, &ci)
	if len(ci.Faults) != 1 || ci.Faults[0].INS != sim.InsDebitForPurchase || ci.Faults[0].Kind != sim.TearAfter {
		t.Fatalf("armed %+v", ci.Faults)
	}
	if _, err := epurse.Select(r.ctx, e.Card, epurse.AIDKingstar); err != nil {
		t.Fatal(err)
	}
	pub, err := epurse.ReadPublicData(r.ctx, e.Card)
	if err != nil {
		t.Fatal(err)
	}
	if out := r.pay(e.Card, pub, 100); out.Kind != epurse.Uncertain {
		t.Fatalf("purchase %v", out.Kind)
	}
	do(t, ctl, "GET", "/cards/student", "", 200, &ci)
	if ci.Status.Balance != 9900 || ci.Status.OfflineCounter != 1 || len(ci.Faults) != 0 {
		t.Fatalf("card %+v", ci)
	}
	var readers []sim.ReaderInfo
	do(t, ctl, "GET", "/readers", "", 200, &readers)
	if len(readers) != 1 || readers[0].Card != "" {
		t.Fatalf("readers after tear %+v", readers)
	}
	do(t, ctl, "POST", "/cards/student/faults", `{"kind":"latency","ins":"5c","repeat":true,"delay":"20ms"}`, 200, &ci)
	do(t, ctl, "DELETE", "/cards/student/faults", "", 200, &ci)
	if len(ci.Faults) != 0 {
		t.Fatalf("faults not cleared %+v", ci.Faults)
	}
	do(t, ctl, "POST", "/readers/sim:0/tap", `{"card":"student"}`, 200, nil)
	ri = sim.ReaderInfo{}
	do(t, ctl, "POST", "/readers/sim:0/remove", "", 200, &ri)
	if ri.Card != "" {
		t.Fatalf("remove %+v", ri)
	}

	// Errors.
	do(t, ctl, "GET", "/cards/nope", "", 404, nil)
	do(t, ctl, "POST", "/readers/nope/tap", `{"card":"student"}`, 404, nil)
	do(t, ctl, "POST", "/readers/sim:0/tap", `{"card":"nope"}`, 404, nil)
	do(t, ctl, "POST", "/readers/sim:0/tap", `{"card":`, 400, nil)
	do(t, ctl, "POST", "/cards/student/faults", `{"kind":"explode"}`, 400, nil)
	do(t, ctl, "POST", "/cards/student/faults", `{"kind":"tear-after","ins":"zz"}`, 400, nil)
	do(t, ctl, "POST", "/cards/student/faults", `{"kind":"latency","delay":"soon"}`, 400, nil)
	do(t, ctl, "PUT", "/cards", "", 405, nil)
}

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range sim.Catalogue() {
		c, err := d.Issue()
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		st := c.Status()
		if seen[st.Serial] {
			t.Fatalf("%s: serial %s reused", d.Name, st.Serial)
		}
		seen[st.Serial] = true
		if st.Balance != d.Balance || st.CardNo != d.Profile.CardNo || d.Profile.CardNumber() != d.Profile.CardNo {
			t.Fatalf("%s: %+v", d.Name, st)
		}
	}
	low, _ := sim.NewDemoCard("low")
	if low.Status().Balance != 500 {
		t.Fatal("low balance card is not 5.00 yuan")
	}
	exp, _ := sim.NewDemoCard("expired")
	if exp.Profile().PublicData().ValidOn(epurseDay()) {
		t.Fatal("expired card valid")
	}
	if _, err := sim.NewDemoCard("nope"); err == nil {
		t.Fatal("unknown demo card issued")
	}
}
