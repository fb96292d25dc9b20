package pos_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/terminaltest"
	"github.com/openykt/yktd/terminal/ui"
)

// TestCardPINLimit: the holder's per-transaction limit of file 0x12
// (调整限额, written under secure messaging) replaces the terminal's 50
// yuan: a sale above it asks for the PIN, one at or below it does not,
// offline and whatever the terminal's own limit.
func TestCardPINLimit(t *testing.T) {
	cfg := config.POS{Mode: config.ModeKeyed} // the terminal's PIN limit: 50 yuan
	t.Run("below the terminal's", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		terminaltest.WriteCard(t, card, epurse.LimitsWrite(2000, 0))
		r.wantPaid(r.handle(card, 2000), card, 2000, 50000) // at the card's limit
		if n := count(r.ui.Codes(), ui.CodeEnterPIN); n != 0 {
			t.Fatalf("PIN asked %d times at the card's limit", n)
		}
		r.clock.Advance(time.Minute)
		r.ui.QueuePIN("123456")
		r.wantPaid(r.handle(card, 2001), card, 2001, 48000) // above it: the PIN
		if n := count(r.ui.Codes(), ui.CodeEnterPIN); n != 1 {
			t.Fatalf("PIN asked %d times above the card's limit", n)
		}
		// Without the PIN the sale above the card's limit does not go through.
		r.clock.Advance(time.Minute)
		r.ui.QueueCancel()
		if res := r.handle(card, 3000); res.Outcome == pos.Paid || balance(card) != 50000-2000-2001 {
			t.Fatalf("sale above the card's limit without the PIN: %+v, balance %d", res, balance(card))
		}
	})
	t.Run("above the terminal's", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		terminaltest.WriteCard(t, card, epurse.LimitsWrite(8000, 0))
		r.wantPaid(r.handle(card, 6000), card, 6000, 50000) // above 50 yuan, within the card's 80
		if n := count(r.ui.Codes(), ui.CodeEnterPIN); n != 0 {
			t.Fatalf("PIN asked %d times within the card's limit", n)
		}
	})
	t.Run("not set", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		terminaltest.WriteCard(t, card, epurse.LimitsWrite(0, 0))
		r.ui.QueuePIN("123456")
		r.wantPaid(r.handle(card, 5001), card, 5001, 50000) // the terminal's limit applies
		if n := count(r.ui.Codes(), ui.CodeEnterPIN); n != 1 {
			t.Fatalf("PIN asked %d times above the terminal's limit", n)
		}
	})
}

// TestCardDailyLimit: the holder's daily limit of file 0x12 caps the
// card's total of the day on this terminal.
func TestCardDailyLimit(t *testing.T) {
	r := newRig(t, config.POS{Mode: config.ModeKeyed})
	card := demoCard(t, "staff", "", 0)
	terminaltest.WriteCard(t, card, epurse.LimitsWrite(0, 3000))
	r.wantPaid(r.handle(card, 2000), card, 2000, 50000)
	r.clock.Advance(time.Minute)
	if res := r.handle(card, 1001); res.Code != policy.CodeDailyLimit || balance(card) != 48000 {
		t.Fatalf("over the card's daily limit: %+v, balance %d", res, balance(card))
	}
	r.wantPaid(r.handle(card, 1000), card, 1000, 48000) // up to it
}

// TestUnfrozenCardAtPOS: a card listed lost in the list this terminal
// holds, unfrozen since (解挂 wrote a newer list version into file 0x12):
// the card's own status decides and the sale goes through; with the
// version of the list held, the list still refuses it; a card whose own
// byte says lost is refused whatever its version.
func TestUnfrozenCardAtPOS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint64 // written to the card; the list held is version 2
		status  byte   // the card's own status byte after the 解挂
		want    policy.Code
	}{
		{"list older than the card", 3, epurse.CardStatusNormal, policy.CodeOK},
		{"list of the card's version", 2, epurse.CardStatusNormal, policy.CodeLost},
		{"older list, card byte lost", 3, epurse.CardStatusLost, policy.CodeLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, config.POS{Mode: config.ModeKeyed})
			card := demoCard(t, "student", "", 0)
			r.listed(offline.StatusEntry{CardNo: sim.DemoStudentNo, Reason: offline.ReasonLost, Since: testNow.Add(-time.Hour)})
			if si, err := r.store.StatusInfo(); err != nil || si.Version != 2 {
				t.Fatalf("status list %+v %v", si, err)
			}
			terminaltest.WriteCard(t, card, epurse.ListVersionWrite(tc.version), epurse.CardStatusWrite(tc.status))
			res := r.handle(card, 1200)
			if tc.want == policy.CodeOK {
				r.wantPaid(res, card, 1200, 10000)
				return
			}
			if res.Outcome != pos.Refused || res.Code != tc.want || balance(card) != 10000 {
				t.Fatalf("result %+v, balance %d, want refused %s", res, balance(card), tc.want)
			}
		})
	}
}

// TestBlockedApplicationAtPOS: a card whose application a terminal
// blocked (SELECT 6A81) is refused as blocked, with the service desk's
// message, not as a card the terminal does not support; the refusal is
// journaled with the card number.
func TestBlockedApplicationAtPOS(t *testing.T) {
	r := newRig(t, config.POS{Mode: config.ModeKeyed})
	card := demoCard(t, "student", "", 0)
	terminaltest.BlockCard(t, card)
	res := r.handle(card, 1200)
	if res.Outcome != pos.Refused || res.Code != policy.CodeAppBlocked || res.CardNo != sim.DemoStudentNo || balance(card) != 10000 {
		t.Fatalf("blocked card: %+v", res)
	}
	if m := r.last(); m.Code != ui.Code(policy.CodeAppBlocked) || m.ZH != "卡片已被锁定 请到服务大厅办理" || m.EN != "Card blocked: go to the service desk" {
		t.Fatalf("display %+v", m)
	}
	recs := r.records()
	if len(recs) != 1 || recs[0].Kind != protocol.KindPurchaseRefused || recs[0].Reason != string(policy.CodeAppBlocked) || recs[0].CardNo != sim.DemoStudentNo {
		t.Fatalf("journal %+v", recs)
	}
}
