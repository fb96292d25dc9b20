package policy_test

import (
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal/policy"
)

func posBase() policy.POSInput {
	return policy.POSInput{
		Card:   student(),
		Device: keyedPOS(),
		Rules:  canteenRules(),
		Amount: 1200,
		Now:    noon,
	}
}

func perUse(price int64) func(*policy.POSInput) {
	return func(in *policy.POSInput) {
		in.Device.Mode, in.Device.PriceFen = policy.ModePerUse, price
		in.Device.MinBalanceFen = 500
	}
}

func TestDecidePOS(t *testing.T) {
	today := policy.DateOf(noon)
	yesterday := policy.DateOf(noon.AddDate(0, 0, -1))
	tests := []struct {
		name    string
		mod     func(*policy.POSInput)
		want    policy.Code
		amount  int64 // checked when allowed
		needPIN bool
		meal    string
	}{
		{"plain keyed sale", nil, policy.CodeOK, 1200, false, "lunch"},

		// Status: the list and the card's own byte, the stricter wins.
		{"listed lost", func(in *policy.POSInput) { in.Listed = offline.ReasonLost }, policy.CodeLost, 0, false, ""},
		{"listed frozen", func(in *policy.POSInput) { in.Listed = offline.ReasonFrozen }, policy.CodeFrozen, 0, false, ""},
		{"listed dormant", func(in *policy.POSInput) { in.Listed = offline.ReasonDormant }, policy.CodeDormant, 0, false, ""},
		{"listed cancelled", func(in *policy.POSInput) { in.Listed = offline.ReasonCancelled }, policy.CodeCancelled, 0, false, ""},
		{"listed expired", func(in *policy.POSInput) { in.Listed = offline.ReasonExpired }, policy.CodeExpired, 0, false, ""},
		{"listed unknown reason fails closed", func(in *policy.POSInput) { in.Listed = 42 }, policy.CodeCardStatus, 0, false, ""},
		{"card byte lost", func(in *policy.POSInput) { in.Card.Status = 0x01 }, policy.CodeLost, 0, false, ""},
		{"card byte frozen", func(in *policy.POSInput) { in.Card.Status = 0x02 }, policy.CodeFrozen, 0, false, ""},
		{"card byte locked", func(in *policy.POSInput) { in.Card.Status = 0x03 }, policy.CodeLocked, 0, false, ""},
		{"card byte cancelled", func(in *policy.POSInput) { in.Card.Status = 0x04 }, policy.CodeCancelled, 0, false, ""},
		{"card byte unknown", func(in *policy.POSInput) { in.Card.Status = 0x7f }, policy.CodeCardStatus, 0, false, ""},
		{"list lost beats card locked", func(in *policy.POSInput) { in.Listed, in.Card.Status = offline.ReasonLost, 0x03 }, policy.CodeLost, 0, false, ""},
		{"list cancelled beats card frozen", func(in *policy.POSInput) { in.Listed, in.Card.Status = offline.ReasonCancelled, 0x02 }, policy.CodeCancelled, 0, false, ""},
		{"card cancelled beats list dormant", func(in *policy.POSInput) { in.Listed, in.Card.Status = offline.ReasonDormant, 0x04 }, policy.CodeCancelled, 0, false, ""},

		// The card's 解挂 version (file 0x12): a list older than it does not decide.
		{"listed lost in a list older than the card's unfreeze", func(in *policy.POSInput) {
			in.Listed, in.ListVersion, in.Card.StatusListVersion = offline.ReasonLost, 41, 42
		}, policy.CodeOK, 1200, false, "lunch"},
		{"listed lost in the list of the card's unfreeze", func(in *policy.POSInput) {
			in.Listed, in.ListVersion, in.Card.StatusListVersion = offline.ReasonLost, 42, 42
		}, policy.CodeLost, 0, false, ""},
		{"listed lost in a newer list", func(in *policy.POSInput) {
			in.Listed, in.ListVersion, in.Card.StatusListVersion = offline.ReasonLost, 43, 42
		}, policy.CodeLost, 0, false, ""},
		{"older list, the card's own byte lost", func(in *policy.POSInput) {
			in.Listed, in.ListVersion, in.Card.StatusListVersion, in.Card.Status = offline.ReasonLost, 41, 42, 0x01
		}, policy.CodeLost, 0, false, ""},
		{"older list, the card's own dates still count", func(in *policy.POSInput) {
			in.Listed, in.ListVersion, in.Card.StatusListVersion = offline.ReasonExpired, 41, 42
			in.Card.ValidTo = yesterday
		}, policy.CodeExpired, 0, false, ""},

		// Validity, days in the device time zone, both ends inclusive.
		{"last valid day", func(in *policy.POSInput) { in.Card.ValidTo = today }, policy.CodeOK, 1200, false, "lunch"},
		{"day after the last", func(in *policy.POSInput) { in.Card.ValidTo = yesterday }, policy.CodeExpired, 0, false, ""},
		{"first valid day", func(in *policy.POSInput) { in.Card.ValidFrom = today }, policy.CodeOK, 1200, false, "lunch"},
		{"day before the first", func(in *policy.POSInput) { in.Card.ValidFrom = policy.DateOf(noon.AddDate(0, 0, 1)) }, policy.CodeNotYetValid, 0, false, ""},
		{"last day ends at midnight device time", func(in *policy.POSInput) {
			in.Device.Mode, in.Rules = policy.ModeKeyed, nil
			in.Card.ValidTo = today
			in.Now = time.Date(2026, 11, 23, 15, 59, 59, 0, time.UTC) // 23:59:59 CST
		}, policy.CodeOK, 1200, false, ""},
		{"next day in device time though still the same day in UTC", func(in *policy.POSInput) {
			in.Rules = nil
			in.Card.ValidTo = today
			in.Now = time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC) // 00:00 CST on the 24th
		}, policy.CodeExpired, 0, false, ""},
		{"status before validity", func(in *policy.POSInput) { in.Listed, in.Card.ValidTo = offline.ReasonFrozen, yesterday }, policy.CodeFrozen, 0, false, ""},

		// Repeat guard.
		{"same card 2.999s after its sale", func(in *policy.POSInput) { in.Usage.LastSale = noon.Add(-2999 * time.Millisecond) }, policy.CodeRepeatTap, 0, false, ""},
		{"same card 3s after its sale", func(in *policy.POSInput) { in.Usage.LastSale = noon.Add(-3 * time.Second) }, policy.CodeOK, 1200, false, "lunch"},
		{"clock stepped back behind the last sale", func(in *policy.POSInput) { in.Usage.LastSale = noon.Add(time.Second) }, policy.CodeRepeatTap, 0, false, ""},
		{"repeat guard off", func(in *policy.POSInput) {
			in.Device.RepeatGuard = 0
			in.Usage.LastSale = noon
		}, policy.CodeOK, 1200, false, "lunch"},
		{"validity before repeat guard", func(in *policy.POSInput) { in.Card.ValidTo, in.Usage.LastSale = yesterday, noon }, policy.CodeExpired, 0, false, ""},

		// Meal periods: canteen modes only, only when the rules have some.
		{"outside every meal", func(in *policy.POSInput) { in.Now = at(2026, 11, 23, 10, 0, 0) }, policy.CodeNoMealPeriod, 0, false, ""},
		{"meal start is inside", func(in *policy.POSInput) { in.Now = at(2026, 11, 23, 6, 30, 0) }, policy.CodeOK, 1200, false, "breakfast"},
		{"meal end is outside", func(in *policy.POSInput) { in.Now = at(2026, 11, 23, 9, 0, 0) }, policy.CodeNoMealPeriod, 0, false, ""},
		{"last minute of a meal", func(in *policy.POSInput) { in.Now = at(2026, 11, 23, 8, 59, 59) }, policy.CodeOK, 1200, false, "breakfast"},
		{"meal past midnight, after midnight", func(in *policy.POSInput) { in.Now = at(2026, 11, 23, 0, 30, 0) }, policy.CodeOK, 1200, false, "late"},
		{"meal past midnight, before it", func(in *policy.POSInput) { in.Now = at(2026, 11, 23, 21, 59, 0) }, policy.CodeNoMealPeriod, 0, false, ""},
		{"fixed mode outside every meal", func(in *policy.POSInput) {
			in.Device.Mode, in.Device.PriceFen = policy.ModeFixed, 800
			in.Now = at(2026, 11, 23, 10, 0, 0)
		}, policy.CodeNoMealPeriod, 0, false, ""},
		{"hot water ignores meal periods", func(in *policy.POSInput) {
			perUse(50)(in)
			in.Now = at(2026, 11, 23, 10, 0, 0)
		}, policy.CodeOK, 50, false, ""},
		{"no meal periods configured", func(in *policy.POSInput) {
			in.Rules.Meals = nil
			in.Now = at(2026, 11, 23, 10, 0, 0)
		}, policy.CodeOK, 1200, false, ""},
		{"no rules at all", func(in *policy.POSInput) {
			in.Rules = nil
			in.Now = at(2026, 11, 23, 10, 0, 0)
		}, policy.CodeOK, 1200, false, ""},
		{"lunch used twice of two", func(in *policy.POSInput) {
			in.Usage = policy.Usage{Day: today, Meal: "lunch", MealUses: 2}
		}, policy.CodeMealLimit, 0, false, ""},
		{"lunch used once of two", func(in *policy.POSInput) {
			in.Usage = policy.Usage{Day: today, Meal: "lunch", MealUses: 1}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"yesterday's lunches do not count", func(in *policy.POSInput) {
			in.Usage = policy.Usage{Day: yesterday, Meal: "lunch", MealUses: 2}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"breakfast uses do not count at lunch", func(in *policy.POSInput) {
			in.Usage = policy.Usage{Day: today, Meal: "breakfast", MealUses: 1}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"dinner has no use limit", func(in *policy.POSInput) {
			in.Now = at(2026, 11, 23, 18, 0, 0)
			in.Usage = policy.Usage{Day: today, Meal: "dinner", MealUses: 60000}
		}, policy.CodeOK, 1200, false, "dinner"},
		{"repeat guard before meal period", func(in *policy.POSInput) {
			in.Now = at(2026, 11, 23, 10, 0, 0)
			in.Usage.LastSale = in.Now.Add(-time.Second)
		}, policy.CodeRepeatTap, 0, false, ""},

		// Amounts and class pricing (half up to the fen).
		{"keyed zero", func(in *policy.POSInput) { in.Amount = 0 }, policy.CodeInvalidAmount, 0, false, ""},
		{"keyed negative", func(in *policy.POSInput) { in.Amount = -100 }, policy.CodeInvalidAmount, 0, false, ""},
		{"keyed beyond 32 bits", func(in *policy.POSInput) {
			in.Device.MaxSaleFen = 0
			in.Amount = 1 << 32
		}, policy.CodeInvalidAmount, 0, false, ""},
		{"keyed at max sale", func(in *policy.POSInput) {
			in.Card.Balance = 200000
			in.Amount = 100000
		}, policy.CodeOK, 100000, true, "lunch"},
		{"keyed above max sale", func(in *policy.POSInput) { in.Amount = 100001 }, policy.CodeAmountTooHigh, 0, false, ""},
		{"meal limit before amount", func(in *policy.POSInput) {
			in.Amount = 0
			in.Usage = policy.Usage{Day: today, Meal: "lunch", MealUses: 2}
		}, policy.CodeMealLimit, 0, false, ""},
		{"staff 90% plus surcharge", func(in *policy.POSInput) { in.Card.Class = classStaff }, policy.CodeOK, 1080 + 100, false, "lunch"},
		{"visitor 90% of 105 rounds 94.5 up", func(in *policy.POSInput) {
			in.Card.Class, in.Amount = classVisitor, 105
		}, policy.CodeOK, 95, false, "lunch"},
		{"visitor 90% of 104 rounds 93.6 up", func(in *policy.POSInput) {
			in.Card.Class, in.Amount = classVisitor, 104
		}, policy.CodeOK, 94, false, "lunch"},
		{"visitor 90% of 106 rounds 95.4 down", func(in *policy.POSInput) {
			in.Card.Class, in.Amount = classVisitor, 106
		}, policy.CodeOK, 95, false, "lunch"},
		{"class without pricing pays list", func(in *policy.POSInput) { in.Card.Class = classNobody }, policy.CodeOK, 1200, false, "lunch"},
		{"hot water: staff discount without meal surcharge", func(in *policy.POSInput) {
			perUse(50)(in)
			in.Card.Class = classStaff
		}, policy.CodeOK, 45, false, ""},
		{"fixed: rules price replaces the device's", func(in *policy.POSInput) {
			in.Device.Mode, in.Device.PriceFen, in.Device.PriceCode = policy.ModeFixed, 800, "set-meal"
		}, policy.CodeOK, 1500, false, "lunch"},
		{"fixed: price code not in rules keeps the device's", func(in *policy.POSInput) {
			in.Device.Mode, in.Device.PriceFen, in.Device.PriceCode = policy.ModeFixed, 800, "noodles"
		}, policy.CodeOK, 800, false, "lunch"},
		{"fixed: fixed mode ignores the keyed amount", func(in *policy.POSInput) {
			in.Device.Mode, in.Device.PriceFen, in.Amount = policy.ModeFixed, 800, 0
		}, policy.CodeOK, 800, false, "lunch"},
		{"fixed: no price anywhere", func(in *policy.POSInput) { in.Device.Mode = policy.ModeFixed }, policy.CodeNoPrice, 0, false, ""},
		{"unknown mode fails closed", func(in *policy.POSInput) { in.Device.Mode = "barter" }, policy.CodeRuleMissing, 0, false, ""},

		// Daily limit: exactly at it is fine.
		{"daily limit reached exactly", func(in *policy.POSInput) {
			in.Rules.DailyLimitFen = 3000
			in.Usage = policy.Usage{Day: today, TodayFen: 1800}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"daily limit exceeded by a fen", func(in *policy.POSInput) {
			in.Rules.DailyLimitFen = 3000
			in.Usage = policy.Usage{Day: today, TodayFen: 1801}
		}, policy.CodeDailyLimit, 0, false, ""},
		{"daily limit from the device", func(in *policy.POSInput) {
			in.Device.DailyLimitFen = 2000
			in.Usage = policy.Usage{Day: today, TodayFen: 801}
		}, policy.CodeDailyLimit, 0, false, ""},
		{"rules daily limit replaces the device's", func(in *policy.POSInput) {
			in.Device.DailyLimitFen, in.Rules.DailyLimitFen = 2000, 5000
			in.Usage = policy.Usage{Day: today, TodayFen: 801}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"yesterday's total does not count", func(in *policy.POSInput) {
			in.Rules.DailyLimitFen = 3000
			in.Usage = policy.Usage{Day: yesterday, TodayFen: 2999}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"card's own daily limit", func(in *policy.POSInput) {
			in.Card.DailyLimit = 2000
			in.Usage = policy.Usage{Day: today, TodayFen: 801}
		}, policy.CodeDailyLimit, 0, false, ""},
		{"card's own daily limit reached exactly", func(in *policy.POSInput) {
			in.Card.DailyLimit = 2000
			in.Usage = policy.Usage{Day: today, TodayFen: 800}
		}, policy.CodeOK, 1200, false, "lunch"},
		{"the stricter of the card's and the rules' daily limits", func(in *policy.POSInput) {
			in.Card.DailyLimit, in.Rules.DailyLimitFen = 9000, 2000
			in.Usage = policy.Usage{Day: today, TodayFen: 801}
		}, policy.CodeDailyLimit, 0, false, ""},
		{"daily limit on the priced amount", func(in *policy.POSInput) {
			in.Rules.DailyLimitFen = 3000
			in.Card.Class = classStaff // 1180
			in.Usage = policy.Usage{Day: today, TodayFen: 1821}
		}, policy.CodeDailyLimit, 0, false, ""},

		// Minimum balance of shower and hot water: > 5 yuan.
		{"hot water with 5.00 yuan", func(in *policy.POSInput) { perUse(50)(in); in.Card.Balance = 500 }, policy.CodeMinBalance, 0, false, ""},
		{"hot water with 5.01 yuan", func(in *policy.POSInput) { perUse(50)(in); in.Card.Balance = 501 }, policy.CodeOK, 50, false, ""},
		{"hot water default minimum when unset", func(in *policy.POSInput) {
			perUse(50)(in)
			in.Device.MinBalanceFen = 0
			in.Card.Balance = 500
		}, policy.CodeMinBalance, 0, false, ""},
		{"rules minimum replaces the device's", func(in *policy.POSInput) {
			perUse(50)(in)
			in.Rules.MinBalanceFen = 1000
			in.Card.Balance = 1000
		}, policy.CodeMinBalance, 0, false, ""},
		{"rules minimum, a fen above", func(in *policy.POSInput) {
			perUse(50)(in)
			in.Rules.MinBalanceFen = 1000
			in.Card.Balance = 1001
		}, policy.CodeOK, 50, false, ""},
		{"shower with 5.00 yuan", func(in *policy.POSInput) {
			in.Device.Mode, in.Amount = policy.ModeMetered, 300
			in.Card.Balance = 500
		}, policy.CodeMinBalance, 0, false, ""},
		{"shower with 5.01 yuan", func(in *policy.POSInput) {
			in.Device.Mode, in.Amount = policy.ModeMetered, 300
			in.Card.Balance = 501
		}, policy.CodeOK, 300, false, ""},
		{"canteen has no minimum", func(in *policy.POSInput) { in.Card.Balance, in.Amount = 300, 300 }, policy.CodeOK, 300, false, "lunch"},
		{"daily limit before minimum balance", func(in *policy.POSInput) {
			perUse(50)(in)
			in.Card.Balance = 100
			in.Device.DailyLimitFen = 1000
			in.Usage = policy.Usage{Day: today, TodayFen: 1000}
		}, policy.CodeDailyLimit, 0, false, ""},

		// Never overdraw.
		{"amount equals balance", func(in *policy.POSInput) { in.Card.Balance = 1200 }, policy.CodeOK, 1200, false, "lunch"},
		{"amount a fen above balance", func(in *policy.POSInput) { in.Card.Balance = 1199 }, policy.CodeInsufficient, 0, false, ""},
		{"surcharge makes it overdraw", func(in *policy.POSInput) { in.Card.Class, in.Card.Balance = classStaff, 1179 }, policy.CodeInsufficient, 0, false, ""},
		{"minimum balance before overdraft", func(in *policy.POSInput) { perUse(600)(in); in.Card.Balance = 400 }, policy.CodeMinBalance, 0, false, ""},
		{"above minimum but below price", func(in *policy.POSInput) { perUse(600)(in); in.Card.Balance = 550 }, policy.CodeInsufficient, 0, false, ""},

		// PIN limit: above it, not at it; the flow asks for the PIN.
		{"50.00 yuan needs no PIN", func(in *policy.POSInput) { in.Amount = 5000 }, policy.CodeOK, 5000, false, "lunch"},
		{"50.01 yuan needs the PIN", func(in *policy.POSInput) { in.Amount = 5001 }, policy.CodeOK, 5001, true, "lunch"},
		{"PIN limit on the priced amount", func(in *policy.POSInput) { in.Card.Class, in.Amount = classStaff, 5000 }, policy.CodeOK, 4500 + 100, false, "lunch"},
		{"priced amount crosses the PIN limit", func(in *policy.POSInput) { in.Card.Class, in.Amount = classStaff, 5500 }, policy.CodeOK, 4950 + 100, true, "lunch"},
		{"default PIN limit when the device has none", func(in *policy.POSInput) {
			in.Device.PINLimitFen = 0
			in.Amount = 5001
		}, policy.CodeOK, 5001, true, "lunch"},
		{"device PIN limit", func(in *policy.POSInput) {
			in.Device.PINLimitFen = 2000
			in.Amount = 2001
		}, policy.CodeOK, 2001, true, "lunch"},
		{"rules PIN limit replaces the device's", func(in *policy.POSInput) {
			in.Rules.PINLimitFen = 8000
			in.Amount = 8000
		}, policy.CodeOK, 8000, false, "lunch"},
		{"card's own PIN limit replaces the rules'", func(in *policy.POSInput) {
			in.Rules.PINLimitFen, in.Card.PINLimit = 3000, 9000
			in.Amount = 8000
		}, policy.CodeOK, 8000, false, "lunch"},
		{"card's own PIN limit, a fen above", func(in *policy.POSInput) {
			in.Card.PINLimit = 1000
			in.Amount = 1001
		}, policy.CodeOK, 1001, true, "lunch"},
		{"overdraft before the PIN", func(in *policy.POSInput) { in.Card.Balance, in.Amount = 5500, 6000 }, policy.CodeInsufficient, 0, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := posBase()
			if tc.mod != nil {
				tc.mod(&in)
			}
			d := policy.DecidePOS(in)
			if d.Code != tc.want {
				t.Fatalf("code = %s (%s), want %s", d.Code, d.Message, tc.want)
			}
			if d.Allow != tc.want.Allows() {
				t.Errorf("allow = %v for code %s", d.Allow, d.Code)
			}
			if d.Message != d.Code.Message() {
				t.Errorf("message = %v, want %v", d.Message, d.Code.Message())
			}
			if !d.Allow {
				if d.Amount != 0 || d.NeedPIN || d.Meal != "" {
					t.Errorf("refusal carries amount %d, PIN %v, meal %q", d.Amount, d.NeedPIN, d.Meal)
				}
				return
			}
			if d.Amount != tc.amount || d.NeedPIN != tc.needPIN || d.Meal != tc.meal {
				t.Errorf("amount %d, PIN %v, meal %q; want %d, %v, %q", d.Amount, d.NeedPIN, d.Meal, tc.amount, tc.needPIN, tc.meal)
			}
		})
	}
}

func TestUsageAdd(t *testing.T) {
	lunch := policy.Decision{Allow: true, Code: policy.CodeOK, Amount: 1200, Meal: "lunch"}
	var u policy.Usage
	u = u.Add(lunch, noon, cst)
	u = u.Add(lunch, noon.Add(time.Minute), cst)
	want := policy.Usage{LastSale: noon.Add(time.Minute), Day: policy.DateOf(noon), TodayFen: 2400, Meal: "lunch", MealUses: 2}
	if u != want {
		t.Fatalf("after two lunches: %+v, want %+v", u, want)
	}

	// The third lunch is refused by the meal limit of two.
	in := posBase()
	in.Usage, in.Now = u, noon.Add(2*time.Minute)
	if d := policy.DecidePOS(in); d.Code != policy.CodeMealLimit {
		t.Fatalf("third lunch: %s, want %s", d.Code, policy.CodeMealLimit)
	}

	// Another meal starts its own count; the day's total goes on.
	dinnerAt := at(2026, 11, 23, 18, 0, 0)
	u = u.Add(policy.Decision{Allow: true, Amount: 800, Meal: "dinner"}, dinnerAt, cst)
	if u.Meal != "dinner" || u.MealUses != 1 || u.TodayFen != 3200 {
		t.Fatalf("after dinner: %+v", u)
	}

	// A sale outside meal periods counts for the day only.
	u = u.Add(policy.Decision{Allow: true, Amount: 50}, dinnerAt.Add(time.Hour), cst)
	if u.Meal != "dinner" || u.MealUses != 1 || u.TodayFen != 3250 {
		t.Fatalf("after hot water: %+v", u)
	}

	// A new day in the device time zone starts from zero, though UTC is
	// still on the same day.
	next := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC) // 00:00 CST on the 24th
	u = u.Add(policy.Decision{Allow: true, Amount: 300, Meal: "late"}, next, cst)
	want = policy.Usage{LastSale: next, Day: policy.MakeDate(2026, 11, 24), TodayFen: 300, Meal: "late", MealUses: 1}
	if u != want {
		t.Fatalf("next day: %+v, want %+v", u, want)
	}
}
