package gate_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/gate"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// TestGateWithoutStatusListPassesNobody: a gate that never received a
// status list lets no card through; with a list it does.
func TestGateWithoutStatusListPassesNobody(t *testing.T) {
	r := newGateRigNoList(t)
	card := demoCard(t, "student", "", 0)
	res := r.result(r.handleAsync(r.present(card)))
	if res.Outcome != gate.Denied || res.Code != policy.CodeNoStatusList {
		t.Fatalf("student at a gate with no status list: %+v", res)
	}
	for _, ch := range r.fake.Changes("arm_in") {
		if ch.High {
			t.Fatalf("the arm moved with no status list: %+v", r.fake.Changes("arm_in"))
		}
	}
	if rec := r.lastRecord(); rec.Kind != protocol.KindGateDenied || rec.Reason != string(policy.CodeNoStatusList) {
		t.Fatalf("journal %+v", rec)
	}
	if m, _ := r.disp.Last(); m.Code != ui.Code(policy.CodeNoStatusList) {
		t.Fatalf("display %v", m)
	}
	r.rdrIn.Remove()

	applySignedList(t, r.store, 1)
	ch := r.handleAsync(r.present(card))
	r.awaitRelay("arm_in")
	r.setInput("pass_in", true)
	if res := r.result(ch); res.Outcome != gate.Passed {
		t.Fatalf("student after the list: %+v", res)
	}
}

// TestGateKeepsWorkingOfflineTooLong: a gate past the offline limit still
// passes cards on the list it has.
func TestGateKeepsWorkingOfflineTooLong(t *testing.T) {
	holds := hold.NewHolds(func() time.Time { return testNow }, 7*24*time.Hour)
	holds.SetStatusList(true)
	holds.SetContact(testNow.Add(-30 * 24 * time.Hour))
	if _, on := holds.Money(testNow); !on {
		t.Fatal("no money hold 30 days offline")
	}
	if h, on := holds.Gate(testNow); on {
		t.Fatalf("gate hold %+v 30 days offline", h)
	}
	r := newGateRigWith(t, true, holds)
	ch := r.handleAsync(r.present(demoCard(t, "student", "", 0)))
	r.awaitRelay("arm_in")
	r.setInput("pass_in", true)
	if res := r.result(ch); res.Outcome != gate.Passed {
		t.Fatalf("student at a gate 30 days offline: %+v", res)
	}
}
