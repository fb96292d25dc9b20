package pos_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

func count(codes []ui.Code, c ui.Code) int {
	n := 0
	for _, x := range codes {
		if x == c {
			n++
		}
	}
	return n
}

func fixed(price int64) config.POS {
	return config.POS{Mode: config.ModeFixed, PriceFen: price, RepeatGuard: config.Duration(3 * time.Second)}
}

// wantPaid checks a paid result against the card and the journal.
func (r *rig) wantPaid(res pos.Result, card *sim.Card, amount, before int64) {
	r.t.Helper()
	if res.Outcome != pos.Paid || res.Amount != amount || res.Code != policy.CodeOK {
		r.t.Fatalf("result %+v, want paid %d", res, amount)
	}
	if got := balance(card); got != before-amount || res.Balance != got {
		r.t.Fatalf("card balance %d, result %d, want %d", got, res.Balance, before-amount)
	}
	if m := r.last(); m.Code != ui.CodeApproved || m.Amount != amount || m.Balance != before-amount {
		r.t.Fatalf("display %v", m)
	}
	r.noIntents()
}

func TestFixedSale(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	res := r.handle(card, 0)
	r.wantPaid(res, card, 1250, 10000)
	k := r.kinds()
	if k[protocol.KindPurchaseIntent] != 1 || k[protocol.KindPurchaseCompleted] != 1 {
		t.Fatalf("journal %v", k)
	}
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindPurchaseCompleted {
			if rec.IntentID != res.IntentID || rec.Amount != 1250 || rec.BalanceAfter != 8750 || len(rec.TAC) != 4 {
				t.Fatalf("completed record %+v", rec)
			}
		}
	}
}

func TestKeyedSale(t *testing.T) {
	r := newRig(t, config.POS{Mode: config.ModeKeyed})
	card := demoCard(t, "staff", "", 0)
	r.wantPaid(r.handle(card, 830), card, 830, 50000)
	r.clock.Advance(time.Minute)
	r.ui.QueueAmount(1520) // the cashier keys it while the card waits
	r.wantPaid(r.handle(card, 0), card, 1520, 50000-830)
	r.clock.Advance(time.Minute)
	r.ui.QueueCancel()
	if res := r.handle(card, 0); res.Outcome != pos.Refused || res.Code != pos.CodeEntryCancelled {
		t.Fatalf("amount entry cancelled: %+v", res)
	}
}

func TestClassPricing(t *testing.T) {
	r := newRig(t, fixed(1000))
	r.rules = &protocol.Rules{Version: 1, Classes: []protocol.ClassPricing{{Class: sim.ClassStaff, Percent: 100, SurchargeFen: 150}}}
	card := demoCard(t, "staff", "", 0)
	r.wantPaid(r.handle(card, 0), card, 1150, 50000)
}

func TestPerUse(t *testing.T) {
	r := newRig(t, config.POS{Mode: config.ModePerUse, PriceFen: 50, MinBalanceFen: 500})
	low := demoCard(t, "low", "", 0) // 5.00 yuan
	if res := r.handle(low, 0); res.Outcome != pos.Refused || res.Code != policy.CodeMinBalance {
		t.Fatalf("hot water at 5.00: %+v", res)
	}
	card := demoCard(t, "student", "", 0)
	r.wantPaid(r.handle(card, 0), card, 50, 10000)
	if k := r.kinds(); k[protocol.KindPurchaseIntent] != 1 {
		t.Fatalf("journal %v: the refused card must not open an intent", k)
	}
}

func shower(preauth int64) config.POS {
	return config.POS{Mode: config.ModeMetered, PerMinuteFen: 100, PreauthFen: preauth, MinBalanceFen: 500,
		MaxSession: config.Duration(20 * time.Minute)}
}

func TestShowerMinimumBalance(t *testing.T) {
	// A session needs a balance of at least the pre-authorisation and above
	// the 5-yuan minimum.
	r := newRig(t, shower(500))
	at500 := demoCard(t, "low", "", 0)
	if res := r.handle(at500, 0); res.Outcome != pos.Refused || res.Code != policy.CodeMinBalance {
		t.Fatalf("shower at 5.00: %+v", res)
	}
	at501 := demoCard(t, "low", "10012026090100000013", 501)
	res := r.handle(at501, 0)
	if res.Outcome != pos.SessionStarted || res.Amount != 500 {
		t.Fatalf("shower at 5.01: %+v", res)
	}
	if balance(at501) != 501 {
		t.Fatal("starting a session debited the card")
	}
	// Another card cannot use the running meter.
	if res := r.handle(demoCard(t, "student", "", 0), 0); res.Code != pos.CodeMeterBusy {
		t.Fatalf("second card: %+v", res)
	}
	r.clock.Advance(3*time.Minute + 20*time.Second) // 4 started minutes
	res = r.handle(at501, 0)
	r.wantPaid(res, at501, 400, 501)
	if len(r.pos.Sessions()) != 0 {
		t.Fatal("session not ended")
	}
}

func TestShowerCapsAndTimeout(t *testing.T) {
	r := newRig(t, shower(1000))
	if res := r.handle(demoCard(t, "low", "10012026090100000013", 999), 0); res.Code != policy.CodeInsufficient {
		t.Fatalf("balance below the pre-authorisation: %+v", res)
	}
	card := demoCard(t, "student", "", 0)
	if res := r.handle(card, 0); res.Outcome != pos.SessionStarted || res.Amount != 1000 {
		t.Fatalf("start: %+v", res)
	}
	r.clock.Advance(19 * time.Minute)
	if got := r.pos.ExpireSessions(); len(got) != 0 {
		t.Fatalf("expired early: %+v", got)
	}
	r.clock.Advance(2 * time.Minute)
	got := r.pos.ExpireSessions()
	if len(got) != 1 || !got[0].Stopped || got[0].Charge != 1000 {
		t.Fatalf("expired %+v, want one stopped at the 10.00 pre-authorisation", got)
	}
	r.clock.Advance(time.Hour) // the customer comes back later: the charge does not grow
	r.wantPaid(r.handle(card, 0), card, 1000, 10000)
	if k := r.kinds(); k[protocol.KindPurchaseIntent] != 1 || k[protocol.KindPurchaseCompleted] != 1 {
		t.Fatalf("journal %v: only the final debit is journaled", k)
	}
}

func TestRefusedCards(t *testing.T) {
	const dormantNo = "10012026090100000021"
	r := newRig(t, fixed(1250))
	since := testNow.Add(-24 * time.Hour)
	r.listed(
		offline.StatusEntry{CardNo: sim.DemoLostNo, Reason: offline.ReasonLost, Since: since},
		offline.StatusEntry{CardNo: dormantNo, Reason: offline.ReasonDormant, Since: since},
	)
	cases := []struct {
		name string
		card *sim.Card
		want policy.Code
	}{
		{"lost", demoCard(t, "lost", "", 0), policy.CodeLost},
		{"dormant", demoCard(t, "student", dormantNo, 0), policy.CodeDormant},
		{"expired", demoCard(t, "expired", "", 0), policy.CodeExpired},
		{"insufficient", demoCard(t, "low", "", 0), policy.CodeInsufficient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := balance(c.card)
			res := r.handle(c.card, 0)
			if res.Outcome != pos.Refused || res.Code != c.want {
				t.Fatalf("result %+v, want refused %s", res, c.want)
			}
			if m := r.last(); m.Code != ui.Code(c.want) || m.ZH == "" || m.EN == "" {
				t.Fatalf("display %v, want %v", m, c.want)
			}
			if balance(c.card) != before {
				t.Fatal("balance changed")
			}
		})
	}
	if k := r.kinds(); k[protocol.KindPurchaseIntent] != 0 {
		t.Fatalf("journal %v: refused cards opened intents", k)
	}
}

func TestRepeatTap(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	r.wantPaid(r.handle(card, 0), card, 1250, 10000)
	r.clock.Advance(time.Second)
	if res := r.handle(card, 0); res.Outcome != pos.Refused || res.Code != policy.CodeRepeatTap {
		t.Fatalf("repeat tap: %+v", res)
	}
	if balance(card) != 8750 {
		t.Fatal("charged twice")
	}
	r.clock.Advance(3 * time.Second)
	r.wantPaid(r.handle(card, 0), card, 1250, 8750)
}

func TestDailyLimitSurvivesRestart(t *testing.T) {
	cfg := fixed(1250)
	cfg.DailyLimitFen = 3000
	r := newRig(t, cfg)
	card := demoCard(t, "student", "", 0)
	r.handle(card, 0)
	r.clock.Advance(time.Minute)
	r.handle(card, 0)
	r.reopen() // usage is rebuilt from today's journal
	r.clock.Advance(time.Minute)
	if res := r.handle(card, 0); res.Code != policy.CodeDailyLimit {
		t.Fatalf("third meal over the daily limit: %+v", res)
	}
	r.clock.Advance(24 * time.Hour) // a new day
	if res := r.handle(card, 0); res.Outcome != pos.Paid {
		t.Fatalf("next day: %+v", res)
	}
}

func TestPIN(t *testing.T) {
	cfg := config.POS{Mode: config.ModeKeyed} // PIN limit defaults to 50 yuan
	t.Run("right", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		r.ui.QueuePIN("123456")
		r.wantPaid(r.handle(card, 6000), card, 6000, 50000)
		if n := count(r.ui.Codes(), ui.CodeEnterPIN); n != 1 {
			t.Fatalf("PIN asked %d times", n)
		}
		r.clock.Advance(time.Minute)
		r.wantPaid(r.handle(card, 5000), card, 5000, 44000) // at the limit: no PIN
		if n := count(r.ui.Codes(), ui.CodeEnterPIN); n != 1 {
			t.Fatal("PIN asked at the limit")
		}
	})
	t.Run("wrong then right", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		r.ui.QueuePIN("000000")
		r.ui.QueuePIN("123456")
		r.wantPaid(r.handle(card, 6000), card, 6000, 50000)
		found := false
		for _, m := range r.ui.Shown() {
			found = found || (m.Code == ui.CodeWrongPIN && m.Retries == 2)
		}
		if !found || card.Status().PINTries != 3 {
			t.Fatalf("display %v, tries %d", r.ui.Shown(), card.Status().PINTries)
		}
	})
	t.Run("wrong and given up", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		r.ui.QueuePIN("000000")
		r.ui.QueueTimeout() // the holder walks away
		res := r.handle(card, 6000)
		if res.Outcome != pos.Refused || res.Code != pos.CodeEntryCancelled || balance(card) != 50000 {
			t.Fatalf("result %+v", res)
		}
		if card.Status().PINTries != 2 {
			t.Fatalf("tries %d", card.Status().PINTries)
		}
	})
	t.Run("locked", func(t *testing.T) {
		r := newRig(t, cfg)
		card := demoCard(t, "staff", "", 0)
		r.ui.QueuePIN("000000")
		r.ui.QueuePIN("111111")
		r.ui.QueuePIN("222222")
		res := r.handle(card, 6000)
		if res.Outcome != pos.Refused || res.Code != pos.CodePINLocked || r.last().Code != ui.CodePINLocked {
			t.Fatalf("result %+v", res)
		}
		r.clock.Advance(time.Minute)
		r.ui.QueuePIN("123456")
		res = r.handle(card, 6000)
		if res.Code != pos.CodePINLocked || balance(card) != 50000 {
			t.Fatalf("locked card with the right PIN: %+v", res)
		}
		if k := r.kinds(); k[protocol.KindPurchaseIntent] != 0 {
			t.Fatalf("journal %v", k)
		}
	})
}

func TestTornSaleNotChargedTwice(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	res := r.handle(card, 0)
	if res.Outcome != pos.TapAgain || res.Code != pos.CodeUncertain {
		t.Fatalf("torn: %+v", res)
	}
	if m := r.last(); m.Code != ui.CodeCardRemoved || !strings.Contains(m.ZH, "请重新刷卡") {
		t.Fatalf("display %v", m)
	}
	r.clock.Advance(10 * time.Second)
	res = r.handle(card, 0)
	if res.Outcome != pos.Paid || !res.Recovered || balance(card) != 8750 {
		t.Fatalf("again: %+v, balance %d", res, balance(card))
	}
	r.noIntents()

	// Torn before the card executed DEBIT: voided, then paid.
	r.clock.Advance(time.Minute)
	if err := card.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	if res := r.handle(card, 0); res.Outcome != pos.TapAgain {
		t.Fatalf("torn before: %+v", res)
	}
	res = r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Recovered || balance(card) != 7500 {
		t.Fatalf("retried: %+v, balance %d", res, balance(card))
	}
	k := r.kinds()
	if k[protocol.KindPurchaseCompleted] != 2 || k[protocol.KindPurchaseVoided] != 1 || k[protocol.KindPurchaseUncertain] != 2 {
		t.Fatalf("journal %v", k)
	}
}

func TestMealPeriods(t *testing.T) {
	r := newRig(t, fixed(1250))
	r.rules = &protocol.Rules{Version: 1, Meals: []protocol.MealPeriod{{Name: "lunch", Start: 11 * 60, End: 13*60 + 30, MaxUses: 1}}}
	card := demoCard(t, "student", "", 0)
	r.wantPaid(r.handle(card, 0), card, 1250, 10000)
	r.clock.Advance(time.Minute)
	if res := r.handle(card, 0); res.Code != policy.CodeMealLimit {
		t.Fatalf("second lunch: %+v", res)
	}
	r.reopen() // the meal's uses are rebuilt from the journal
	if res := r.handle(card, 0); res.Code != policy.CodeMealLimit {
		t.Fatalf("second lunch after a restart: %+v", res)
	}
	r.clock.Advance(2 * time.Hour) // 13:46
	if res := r.handle(card, 0); res.Code != policy.CodeNoMealPeriod {
		t.Fatalf("outside meal times: %+v", res)
	}
}

func TestShowerTornFinalDebit(t *testing.T) {
	r := newRig(t, shower(1000))
	card := demoCard(t, "student", "", 0)
	r.startShower(card)
	r.clock.Advance(5 * time.Minute)
	r.tornDebit(card, 0)
	if s := r.pos.Sessions(); len(s) != 1 || !s[0].Stopped || s[0].Charge != 500 {
		t.Fatalf("sessions %+v, want one stopped at 5.00", s)
	}
	r.clock.Advance(10 * time.Minute) // later than the retry window: the session still knows its debit
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || !res.Recovered || res.Amount != 500 || balance(card) != 9500 {
		t.Fatalf("again: %+v, balance %d", res, balance(card))
	}
	if len(r.pos.Sessions()) != 0 {
		t.Fatal("session not ended")
	}
	if k := r.kinds(); k[protocol.KindPurchaseCompleted] != 1 {
		t.Fatalf("journal %v", k)
	}
}

func TestWrongMAC2StillCompletes(t *testing.T) {
	r := newRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	if err := card.Arm(sim.Fault{Kind: sim.WrongMAC2, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	// The card debited and its TAC proves it; a MAC2 the SAM refuses is
	// reported in the log, and the sale is journaled as completed.
	r.wantPaid(r.handle(card, 0), card, 1250, 10000)
}

// fullStore refuses new purchases as a full store does.
type fullStore struct{ *offline.Store }

func (fullStore) OpenIntent(offline.PurchaseIntent) (offline.Intent, error) {
	return offline.Intent{}, fmt.Errorf("offline: open intent: %w", offline.ErrStorageFull)
}

func TestStorageFullRefusesBeforeDebit(t *testing.T) {
	r := newRig(t, fixed(1250))
	r.pos = r.newPOS(fullStore{r.store})
	card := demoCard(t, "student", "", 0)
	res, err := r.pos.HandleCard(r.ctx, r.tap(card), 0)
	if !errors.Is(err, offline.ErrStorageFull) || res.Outcome != pos.Refused || res.Code != pos.CodeStorageFull {
		t.Fatalf("result %+v, err %v", res, err)
	}
	if balance(card) != 10000 || card.Status().OfflineCounter != 0 {
		t.Fatal("the card was debited without a durable intent")
	}
}

func TestShowerClassPricing(t *testing.T) {
	// The rules give students half price: a 4-minute shower at 1.00 a
	// minute costs a student 2.00 (no 搭伙费 on a shower).
	r := newRig(t, shower(1000))
	r.rules = &protocol.Rules{Version: 1, Classes: []protocol.ClassPricing{{Class: sim.ClassStudent, Percent: 50, SurchargeFen: 300}}}
	r.pos = r.newPOS(r.store)
	card := demoCard(t, "student", "", 0)
	r.startShower(card)
	r.clock.Advance(3*time.Minute + 20*time.Second)
	r.wantPaid(r.handle(card, 0), card, 200, 10000)
}
