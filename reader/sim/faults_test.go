package sim_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
)

// Both virtual cards meet the card-side contract of the vpcd bridge.
var (
	_ vpcd.Card = (*sim.Card)(nil)
	_ vpcd.Card = (*sim.PSAMCard)(nil)
)

func TestFaultJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sim.Fault
	}{
		{`{"kind":"tear-after","ins":"debit","nth":1}`, sim.Fault{Kind: sim.TearAfter, INS: 0x54, Nth: 1}},
		{`{"kind":"tear-before"}`, sim.Fault{Kind: sim.TearBefore, INS: sim.InsAny}},
		{`{"kind":"latency","ins":"5C","repeat":true,"delay":"150ms"}`, sim.Fault{Kind: sim.Latency, INS: 0x5C, Repeat: true, Delay: 150 * time.Millisecond}},
		{`{"kind":"truncate","ins":"init-sam","keep":3}`, sim.Fault{Kind: sim.Truncate, INS: 0x70, Keep: 3}},
	} {
		var f sim.Fault
		if err := json.Unmarshal([]byte(tc.in), &f); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if f != tc.want {
			t.Fatalf("%s: %+v, want %+v", tc.in, f, tc.want)
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var g sim.Fault
		if err := json.Unmarshal(b, &g); err != nil || g != f {
			t.Fatalf("round trip %s: %+v %v", b, g, err)
		}
	}
	for _, bad := range []string{`{"kind":"boom"}`, `{"kind":"garble","ins":"xyz"}`, `{"kind":"garble","nth":-1}`, `{"kind":"latency","delay":"-1s"}`, `[]`} {
		var f sim.Fault
		if err := json.Unmarshal([]byte(bad), &f); !errors.Is(err, sim.ErrBadFault) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	c, _ := sim.NewDemoCard("student")
	if err := c.Arm(sim.Fault{Kind: "nope"}); !errors.Is(err, sim.ErrBadFault) {
		t.Errorf("Arm of a bad fault: %v", err)
	}
}

// Respond is the vpcd contract: ErrTorn when no answer left the card, the
// Nth occurrence is counted per instruction, Reset drops the session.
func TestRespondContract(t *testing.T) {
	c, _ := sim.NewDemoCard("student")
	c.SetRandom(&counterRand{})
	var slept time.Duration
	c.SetSleep(func(d time.Duration) { slept += d })
	sel := epurse.SelectAID(epurse.AIDKingstar).Bytes()
	bal := epurse.GetBalanceCommand().Bytes()
	if err := c.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsGetBalance, Nth: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Arm(sim.Fault{Kind: sim.Latency, INS: sim.InsSelect, Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Respond(sel); err != nil || len(resp) < 2 || slept != time.Second {
		t.Fatalf("select %X %v slept %v", resp, err, slept)
	}
	if resp, err := c.Respond(bal); err != nil || len(resp) != 6 {
		t.Fatalf("1st balance %X %v", resp, err)
	}
	if _, err := c.Respond(bal); !errors.Is(err, sim.ErrTorn) {
		t.Fatalf("2nd balance %v", err)
	}
	if len(c.Faults()) != 0 {
		t.Fatalf("one-shot faults still armed: %v", c.Faults())
	}
	// Torn: the selection is lost.
	if resp, _ := c.Respond(bal); reader.SW(uint16(resp[0])<<8|uint16(resp[1])) != reader.SWConditionsNotMet {
		t.Fatalf("balance after tear %X", resp)
	}
	// Reset loses an open purchase session.
	_, _ = c.Respond(sel)
	if resp, _ := c.Respond(epurse.InitPurchaseCommand(1, 10, [6]byte{}).Bytes()); len(resp) != 17 {
		t.Fatalf("init %X", resp)
	}
	c.Reset()
	_, _ = c.Respond(sel)
	resp, _ := c.Respond(epurse.DebitCommand(1, testTime, [4]byte{}).Bytes())
	if reader.SW(uint16(resp[0])<<8|uint16(resp[1])) != reader.SWConditionsNotMet {
		t.Fatalf("debit after reset %X", resp)
	}
	if st := c.Status(); st.Balance != 10000 {
		t.Fatalf("%+v", st)
	}
}

func TestSM4Card(t *testing.T) {
	d := sim.Catalogue()[0]
	d.Profile.Algorithm = epurse.AlgSM4
	c, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "student")
	r.card = c
	card, pub := r.tap()
	out := r.pay(card, pub, 42)
	if out.Kind != epurse.Done || !out.MAC2Verified || out.Pending.Algorithm != epurse.AlgSM4 {
		t.Fatalf("SM4 purchase %v %v", out.Kind, out.Err)
	}
	if out.TAC != wantTAC(t, out.Pending) {
		t.Fatal("SM4 TAC differs from the ledger's")
	}
}
