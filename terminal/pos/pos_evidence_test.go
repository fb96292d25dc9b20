package pos_test

import (
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// TestRecoveredSaleToldToCustomer: the tap that completes an earlier torn
// sale tells the customer that the earlier payment went through, not only
// the new balance.
func TestRecoveredSaleToldToCustomer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shower bool
		amount int64
	}{{"canteen", false, 1250}, {"shower", true, 500}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fixed(1250)
			if tc.shower {
				cfg = shower(1000)
			}
			r := newRig(t, cfg)
			card := demoCard(t, "student", "", 0)
			if tc.shower {
				r.startShower(card)
				r.clock.Advance(5 * time.Minute)
			}
			r.tornDebit(card, 0)
			r.clock.Advance(10 * time.Second)
			res := r.handle(card, 0)
			if res.Outcome != pos.Paid || !res.Recovered || res.Amount != tc.amount {
				t.Fatalf("retry: %+v", res)
			}
			m := r.last()
			yuan := ui.Yuan(tc.amount)
			if m.Code != ui.CodeEarlierSale || !strings.Contains(m.ZH, "上次交易已完成") || !strings.Contains(m.ZH, yuan) ||
				!strings.Contains(m.EN, "earlier payment of "+yuan+" went through") || m.Balance != 10000-tc.amount || !m.HasBalance || !m.OK() {
				t.Fatalf("display %+v, want the earlier payment of %s told", m, yuan)
			}
			if b := r.ui.Beeps(); len(b) == 0 || !b[len(b)-1] {
				t.Fatalf("beeps %v: the recovered sale is a success", b)
			}
		})
	}
}

// refusals returns the purchase-refused records journaled after the setup.
func (r *rig) refusals() []protocol.Record {
	var out []protocol.Record
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindPurchaseRefused {
			out = append(out, rec)
		}
	}
	return out
}

// TestPOSRefusalsJournaled: a refusal by the policy (status list,
// validity, limits, balance) or by a hold is journaled as evidence with
// the card, the amount asked, the stable reason and the balance read; a
// card that left before it was read, or a repeat tap, is not.
func TestPOSRefusalsJournaled(t *testing.T) {
	r := newRig(t, fixed(1250))
	r.listed(offline.StatusEntry{CardNo: sim.DemoLostNo, Reason: offline.ReasonLost, Since: testNow.Add(-time.Hour)})
	r.base = r.head()
	for _, tc := range []struct {
		card    string
		code    policy.Code
		balance int64
	}{
		{"lost", policy.CodeLost, 8000},
		{"expired", policy.CodeExpired, 3000},
		{"low", policy.CodeInsufficient, 500},
	} {
		res := r.handle(demoCard(t, tc.card, "", 0), 0)
		if res.Code != tc.code {
			t.Fatalf("%s: %+v", tc.card, res)
		}
		got := r.refusals()
		if len(got) == 0 {
			t.Fatalf("%s refused, nothing journaled", tc.card)
		}
		rec := got[len(got)-1]
		if rec.Reason != string(tc.code) || rec.CardNo != res.CardNo || rec.Amount != 1250 || rec.BalanceBefore != tc.balance {
			t.Fatalf("%s: refusal record %+v", tc.card, rec)
		}
	}
	if n := len(r.refusals()); n != 3 {
		t.Fatalf("%d refusals journaled, want 3", n)
	}

	student := demoCard(t, "student", "", 0)
	r.wantPaid(r.handle(student, 0), student, 1250, 10000)
	if res := r.handle(student, 0); res.Code != policy.CodeRepeatTap {
		t.Fatalf("repeat: %+v", res)
	}
	if err := student.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsAny, Nth: 2}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	if res := r.handle(student, 0); res.Outcome != pos.TapAgain {
		t.Fatalf("card gone before it was read: %+v", res)
	}
	if n := len(r.refusals()); n != 3 {
		t.Fatalf("%d refusals journaled after a repeat tap and an unread card, want still 3", n)
	}

	// A hold refuses every card: journaled too, so that the ledger sees
	// which cards came to a terminal that could not check them.
	nolist := newRigNoList(t, fixed(1250))
	nolist.handle(demoCard(t, "lost", "", 0), 0)
	if got := nolist.refusals(); len(got) != 1 || got[0].Reason != string(policy.CodeNoStatusList) || got[0].CardNo != sim.DemoLostNo {
		t.Fatalf("refusal with no status list journaled as %+v", got)
	}
}

// head returns the journal's last sequence.
func (r *rig) head() uint64 {
	r.t.Helper()
	h, err := r.store.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	return h.Seq
}
