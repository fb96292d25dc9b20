package ledger_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
)

// TestRestartKeepsEverything closes and reopens the bbolt file (behind the
// same URL) and checks that devices, journals, acks, alerts, status list,
// rules, loads and the signing key survive.
func TestRestartKeepsEverything(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(450, false)
	tm.gate(2)
	ack, e := upload(t, tl, dev, tm.batch(1, 1, 4))
	if e != nil {
		t.Fatal(e)
	}
	other := newTerminal(t, "pos-1", "staff")
	other.gate(1)
	_, e = upload(t, tl, dev, other.batch(2, 1, 1))
	wantCode(t, e, protocol.CodeFork)
	if _, err := tl.SetStatus("LOST01", ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.SetRulesJSON([]byte(`{"pin_limit_fen": 5000, "prices": {"set-meal": 1200}}`)); err != nil {
		t.Fatal(err)
	}
	ld, err := tl.AddLoad(tm.pub.CardNumber(), 2000, "bank")
	if err != nil {
		t.Fatal(err)
	}
	kid, stVersion := tl.KeyID(), uint64(2) // 1 is the empty list of a new ledger
	before, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}

	tl.Restart()

	if tl.KeyID() != kid {
		t.Errorf("key id %s after restart, was %s", tl.KeyID(), kid)
	}
	again, e := upload(t, tl, dev, tm.batch(1, 1, 4)) // the device still works, the duplicate gets the same ack
	if e != nil || again.ServerTime != ack.ServerTime || !bytes.Equal(again.Head, ack.Head) {
		t.Fatalf("duplicate after restart: %+v %v", again, e)
	}
	tm.gate(2)
	_, e = upload(t, tl, dev, tm.batch(3, 6, 6))
	wantCode(t, e, protocol.CodeGap)
	if e.Expected != 5 {
		t.Errorf("expected %d", e.Expected)
	}
	after, err := tl.Report()
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Alerts) != 1 || after.StatusVersion != stVersion || after.Devices[0].Stats.Records != before.Devices[0].Stats.Records ||
		after.Devices[0].Stats.Debits != 450 || after.Devices[0].Stats.TACVerified != 1 {
		t.Errorf("report after restart %+v", after)
	}
	if v, d, err := tl.StatusVersion(); err != nil || v != 2 || d != protocol.StatusDigest([]protocol.StatusEntry{{CardNo: "LOST01", Reason: ledger.ReasonLost, Since: newClock().Now().Unix()}}) {
		t.Errorf("status after restart: %d %v", v, err)
	}
	status, body := tl.Post(t, "/v1/rules", dev.Seal(t, &protocol.RulesRequest{DeviceID: dev.ID}))
	if status != http.StatusOK {
		t.Fatalf("rules: %d", status)
	}
	rules, _, err := protocol.Open[protocol.Rules](tl.Keys(), body, dev.ID)
	if err != nil || rules.Version != 1 || rules.PINLimitFen != 5000 || rules.Prices["set-meal"] != 1200 {
		t.Errorf("rules after restart %+v %v", rules, err)
	}
	if got, err := tl.LoadByID(ld.ID); err != nil || got.State != ledger.LoadPending || got.Amount != 2000 {
		t.Errorf("load after restart %+v %v", got, err)
	}
	if d := device(t, tl, "pos-1"); d.HighWater != 4 || !d.Active() {
		t.Errorf("device after restart %+v", d)
	}
}
