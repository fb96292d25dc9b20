package kiosk_test

import (
	"context"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

// wantRefused fails unless res refuses card with code (and the ledger's
// refusal ref, when not 0), the display shows both texts with the card's
// balance, and nothing moved: the card's balance and online counter are
// as before, no load was journaled, no intent is left.
func (r *rig) wantRefused(res kiosk.Result, card *sim.Card, before sim.Status, code ui.Code, ref protocol.Code, zh, en string) {
	r.t.Helper()
	if res.Outcome != kiosk.Refused || res.Code != code || res.Refusal != ref || res.Balance != int64(before.Balance) {
		r.t.Fatalf("result %+v, want %s (%s)", res, code, ref)
	}
	m, _ := r.ui.Last()
	if m.Code != code || m.ZH != zh || m.EN != en || !m.HasBalance || m.Balance != int64(before.Balance) {
		r.t.Fatalf("display %+v, want %s %q / %q with the balance %d", m, code, zh, en, before.Balance)
	}
	if st := card.Status(); st.Balance != before.Balance || st.OnlineCounter != before.OnlineCounter {
		r.t.Fatalf("the card moved: %+v, before %+v", st, before)
	}
	if len(r.loadRecords()) != 0 || len(r.intents()) != 0 {
		r.t.Fatalf("a refused claim left a load record or an intent")
	}
}

// seedDemo gives the rig's ledger the demo accounts.
func (r *rig) seedDemo() {
	r.t.Helper()
	if err := ledger.SeedDemo(r.ledger.Ledger); err != nil {
		r.t.Fatal(err)
	}
}

// setState puts the demo student's account in state.
func (r *rig) setState(state string) {
	r.t.Helper()
	if _, err := r.ledger.SetAccount("S2026001", ledger.AccountChange{State: &state}); err != nil {
		r.t.Fatal(err)
	}
}

// TestClaimRefusals: each reason the real ledger refuses a load with
// (over HTTP, asked before the card is touched) is shown with its own
// code, in Chinese and English, and nothing moves.
func TestClaimRefusals(t *testing.T) {
	cases := []struct {
		name    string
		card    string // demo card
		prepare func(r *rig)
		code    ui.Code
		ref     protocol.Code
		zh, en  string
	}{
		{"spend-only", "staff", nil, load.CodeSpendOnly, protocol.CodeSpendOnly,
			"账户仅可消费 不能圈存", "Account may only spend: no loads"},
		{"account-lost", "lost", nil, load.CodeAccountLost, protocol.CodeAccountLost,
			"账户已挂失 未圈存", "Account reported lost: nothing loaded"},
		{"account-expired", "expired", nil, load.CodeAccountExpired, protocol.CodeAccountExpired,
			"账户已过有效期 请办理延期", "Account expired: have it extended"},
		{"overdrawn-frozen", "student", func(r *rig) { r.setState("overdrawn-frozen") }, load.CodeOverdrawnFrozen, protocol.CodeOverdrawnFrozen,
			"账户透支已冻结 请先还款", "Account overdrawn and frozen: repay first"},
		{"account-frozen", "student", func(r *rig) { r.setState("frozen") }, load.CodeAccountFrozen, protocol.CodeAccountFrozen,
			"账户已冻结 未圈存", "Account frozen: nothing loaded"},
		{"account-dormant", "student", func(r *rig) { r.setState("dormant") }, load.CodeAccountDormant, protocol.CodeAccountDormant,
			"账户已休眠 请在圈存机验证", "Account dormant: verify it at a kiosk"},
		{"account-cancelled", "student", func(r *rig) { r.setState("cancelled") }, load.CodeAccountCancelled, protocol.CodeAccountCancelled,
			"账户或此卡已注销 未圈存", "Account or card cancelled: nothing loaded"},
		{"card-replaced", "student", func(r *rig) {
			if _, err := r.ledger.ReissueCard("S2026001", "10012026090100000091"); err != nil {
				r.t.Fatal(err)
			}
		}, load.CodeAccountCancelled, protocol.CodeAccountCancelled,
			"账户或此卡已注销 未圈存", "Account or card cancelled: nothing loaded"},
		{"purse-limit", "student", func(r *rig) {
			limit := int64(10000) // the demo student's card holds 100.00
			if _, err := r.ledger.SetAccount("S2026001", ledger.AccountChange{PurseLimit: &limit}); err != nil {
				r.t.Fatal(err)
			}
		}, load.CodePurseLimit, protocol.CodePurseLimit,
			"超过卡内余额上限 未圈存", "Above the card's balance limit: nothing loaded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			r.seedDemo()
			if c.prepare != nil {
				c.prepare(r)
			}
			card := demoCard(t, c.card, "", 0)
			before := card.Status()
			res := r.handle(card)
			r.wantRefused(res, card, before, c.code, c.ref, c.zh, c.en)
		})
	}
}

// TestClaimNoAccountNothing: a card without an account and without loads
// is told there is nothing to claim, in both languages, with its balance.
func TestClaimNoAccountNothing(t *testing.T) {
	r := newRig(t)
	r.seedDemo()
	card := demoCard(t, "student", "10012026090100000098", 0)
	res := r.handle(card)
	if res.Outcome != kiosk.Nothing || res.Code != kiosk.CodeNothingPending || res.Balance != 10000 {
		t.Fatalf("%+v", res)
	}
	if m, _ := r.ui.Last(); m.ZH != "没有待领取的款项" || m.EN != "Nothing to claim" || m.Balance != 10000 || !m.HasBalance {
		t.Fatalf("display %+v", m)
	}
}

// freezingLedger is the kiosk's real link to the ledger with the account
// frozen by the operator right after the ledger answered Claims: the
// refusal comes with INITIALIZE FOR LOAD's authorisation instead.
type freezingLedger struct {
	kiosk.Ledger
	freeze func()
}

func (l freezingLedger) Claims(ctx context.Context, cardNo string, balance int64) (protocol.Claims, error) {
	c, err := l.Ledger.Claims(ctx, cardNo, balance)
	l.freeze()
	return c, err
}

// TestClaimRefusedAtAuthorisation: the account is frozen between the
// ledger's answer to Claims and the load's authorisation: the ledger
// refuses MAC2 with account-frozen, the kiosk shows that reason, the
// card is not credited, its intent is dropped and the money stays in the
// account.
func TestClaimRefusedAtAuthorisation(t *testing.T) {
	r := newRig(t)
	r.seedDemo()
	k, err := kiosk.New(kiosk.Options{Store: r.store, Ledger: freezingLedger{Ledger: r.client, freeze: func() { r.setState("frozen") }},
		SAM: r.sam, Display: r.ui, Now: r.clock.Now, Config: r.cfg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r.kiosk = k
	card := demoCard(t, "student", "", 0)
	before := card.Status()
	res := r.handle(card)
	if res.Outcome != kiosk.Refused || res.Code != load.CodeAccountFrozen || res.Refusal != protocol.CodeAccountFrozen {
		t.Fatalf("%+v", res)
	}
	if m, _ := r.ui.Last(); m.ZH != "账户已冻结 未圈存" || m.EN != "Account frozen: nothing loaded" || m.Balance != int64(before.Balance) {
		t.Fatalf("display %+v", m)
	}
	if st := card.Status(); st.Balance != before.Balance {
		t.Fatalf("card credited: %+v", st)
	}
	if len(r.intents()) != 0 || len(r.loadRecords()) != 0 {
		t.Fatal("an intent or a load record is left")
	}
	rep, err := r.ledger.ShowAccount("S2026001")
	if err != nil || rep.Account.Loadable != 5000 || rep.Account.Authorised != 0 {
		t.Fatalf("account %+v %v", rep.Account, err)
	}
}
