package gate_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
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

// TestGateNeverTakesACPUCardsUID: a CPU card or a phone (ISO 14443-4)
// without an e-purse the gate knows presents a UID that means nothing (a
// phone draws a new one at every presentation): it is no identity, the
// gate says so and lets nobody in on it. A memory card's UID (MIFARE
// Classic, identity-only cards) still is one.
func TestGateNeverTakesACPUCardsUID(t *testing.T) {
	r := newGateRig(t)
	notFound := readertest.Step{Resp: "6A82"}
	for i, uid := range [][]byte{{0x08, 0x12, 0x34, 0x56}, {0x08, 0x9A, 0xBC, 0xDE}} {
		phone := reader.Event{Reader: "in", Kind: reader.CardPresent, Tech: reader.TechISO14443A, UID: uid,
			Card: readertest.NewCard(notFound, notFound, notFound)}
		res, err := r.gate.HandleEvent(r.ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != gate.Denied || res.Code != policy.CodeNoCredential || res.ID != "" {
			t.Fatalf("CPU card %d: %+v, want denied no_credential with no identity", i, res)
		}
	}
	for _, ch := range r.fake.Changes("arm_in") {
		if ch.High {
			t.Fatal("the arm moved for a CPU card's UID")
		}
	}
	mifare := reader.Event{Reader: "in", Kind: reader.CardPresent, Tech: reader.TechMifare, UID: []byte{0xDE, 0xAD, 0xBE, 0xEF},
		Card: readertest.NewCard(notFound, notFound, notFound)}
	res, err := r.gate.HandleEvent(r.ctx, mifare)
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "deadbeef" {
		t.Fatalf("memory card: %+v, want its UID deadbeef as the identity", res)
	}
}
