package pos_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// TestPOSWithoutStatusListTakesNoMoney: a terminal that never received a
// status list cannot tell a lost card from a good one, so it takes money
// from neither and the display says why; once it holds a signed list it
// sells to the good card and refuses the lost one.
func TestPOSWithoutStatusListTakesNoMoney(t *testing.T) {
	r := newRigNoList(t, fixed(1250))
	lost, student := demoCard(t, "lost", "", 0), demoCard(t, "student", "", 0)
	for _, c := range []*sim.Card{lost, student} {
		before := balance(c)
		res := r.handle(c, 0)
		if res.Outcome != pos.Refused || res.Code != policy.CodeNoStatusList {
			t.Fatalf("tap of %s with no status list: %+v, want refused %s", c.Status().CardNo, res, policy.CodeNoStatusList)
		}
		if m := r.last(); m.Code != ui.Code(policy.CodeNoStatusList) || m.ZH == "" || m.EN == "" {
			t.Fatalf("display %v, want the no-status-list message", m)
		}
		if balance(c) != before {
			t.Fatalf("card %s debited with no status list", c.Status().CardNo)
		}
	}
	if k := r.kinds(); k[protocol.KindPurchaseIntent] != 0 {
		t.Fatalf("journal %v: intents opened with no status list", k)
	}

	r.listed(offline.StatusEntry{CardNo: sim.DemoLostNo, Reason: offline.ReasonLost, Since: testNow.Add(-time.Hour)})
	r.wantPaid(r.handle(student, 0), student, 1250, 10000)
	if res := r.handle(lost, 0); res.Outcome != pos.Refused || res.Code != policy.CodeLost {
		t.Fatalf("lost card after the list: %+v", res)
	}
}

// TestMeteredWithoutStatusListStartsNothing: a shower meter with no status
// list opens no session (the valve stays shut).
func TestMeteredWithoutStatusListStartsNothing(t *testing.T) {
	r := newRigNoList(t, shower(1000))
	res := r.handle(demoCard(t, "student", "", 0), 0)
	if res.Outcome != pos.Refused || res.Code != policy.CodeNoStatusList {
		t.Fatalf("shower tap with no status list: %+v", res)
	}
	if s := r.pos.Sessions(); len(s) != 0 {
		t.Fatalf("sessions %+v", s)
	}
}
