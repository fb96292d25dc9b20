package gate_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/gate"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/terminaltest"
	"github.com/openykt/yktd/terminal/ui"
)

// TestGateUnfrozenCard: a card reported lost, listed so in the signed
// status list version 2 the gate holds, then unfrozen at a kiosk (解挂
// wrote a list version into file 0x12 and set its status byte normal)
// before the gate synced. With the card's version 3 the list predates the
// unfreeze and the card passes; with version 2 (the list already knew of
// the unfreeze and still lists the card: lost again) it is refused, and so
// is a card whose own status byte says lost whatever its version.
func TestGateUnfrozenCard(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint64
		status  byte
		want    policy.Code
	}{
		{"list older than the card's unfreeze", 3, epurse.CardStatusNormal, policy.CodeOK},
		{"list of the card's version", 2, epurse.CardStatusNormal, policy.CodeLost},
		{"older list, the card's own byte lost", 3, epurse.CardStatusLost, policy.CodeLost},
		{"card never unfrozen", 0, epurse.CardStatusNormal, policy.CodeLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newGateRig(t)
			r.base = applySignedList(t, r.store, 2, offline.StatusEntry{CardNo: sim.DemoLostNo, Reason: offline.ReasonLost, Since: testNow.Add(-time.Hour)})
			card := demoCard(t, "lost", "", 0)
			terminaltest.WriteCard(t, card, epurse.ListVersionWrite(tc.version), epurse.CardStatusWrite(tc.status))
			ch := r.handleAsync(r.present(card))
			if tc.want != policy.CodeOK {
				res := r.result(ch)
				if res.Outcome != gate.Denied || res.Code != tc.want || r.fake.High("arm_in") {
					t.Fatalf("result = %+v, want denied %s", res, tc.want)
				}
				if rec := r.lastRecord(); rec.Kind != protocol.KindGateDenied || rec.CardNo != sim.DemoLostNo || rec.Reason != string(tc.want) {
					t.Fatalf("journal = %+v", rec)
				}
				return
			}
			r.awaitRelay("arm_in")
			r.setInput("pass_in", true)
			res := r.result(ch)
			if res.Outcome != gate.Passed || res.Code != policy.CodeOK || res.ID != sim.DemoLostNo {
				t.Fatalf("result = %+v, want passed", res)
			}
			if rec := r.lastRecord(); rec.Kind != protocol.KindGatePass || rec.CardNo != sim.DemoLostNo {
				t.Fatalf("journal = %+v", rec)
			}
		})
	}
}

// TestGateBlockedApplication: a card whose application a terminal blocked
// (SELECT 6A81) is denied as blocked, with the service desk's message,
// not as an unreadable credential.
func TestGateBlockedApplication(t *testing.T) {
	r := newGateRig(t)
	card := demoCard(t, "student", "", 0)
	terminaltest.BlockCard(t, card)
	res := r.result(r.handleAsync(r.present(card)))
	if res.Outcome != gate.Denied || res.Code != policy.CodeAppBlocked || res.ID != sim.DemoStudentNo || r.fake.High("arm_in") {
		t.Fatalf("result = %+v", res)
	}
	if rec := r.lastRecord(); rec.Kind != protocol.KindGateDenied || rec.Reason != string(policy.CodeAppBlocked) || rec.CardNo != sim.DemoStudentNo {
		t.Fatalf("journal = %+v", rec)
	}
	if m, _ := r.disp.Last(); m.Code != ui.Code(policy.CodeAppBlocked) || m.ZH != "卡片已被锁定 请到服务大厅办理" || m.EN != "Card blocked: go to the service desk" {
		t.Fatalf("display = %+v", m)
	}
}
