package policy_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

// allCodes lists every code the package defines.
var allCodes = []policy.Code{
	policy.CodeOK, policy.CodeEmergency, policy.CodeLost, policy.CodeFrozen, policy.CodeDormant,
	policy.CodeCancelled, policy.CodeLocked, policy.CodeCardStatus, policy.CodeExpired,
	policy.CodeNotYetValid, policy.CodeNotAccepted, policy.CodeNoCredential, policy.CodeWrongPIN,
	policy.CodeRepeatTap, policy.CodeNoMealPeriod, policy.CodeMealLimit, policy.CodeInvalidAmount,
	policy.CodeAmountTooHigh, policy.CodeNoPrice, policy.CodeDailyLimit, policy.CodeMinBalance,
	policy.CodeInsufficient, policy.CodeNoAccess, policy.CodeOutsideHours, policy.CodeHolidayClosed,
	policy.CodeSecondFactor, policy.CodeAntiPassback, policy.CodeQRNoSubject, policy.CodeQRMalformed,
	policy.CodeQRLifetime, policy.CodeQRNotYetValid, policy.CodeQRExpired, policy.CodeQRReplay,
	policy.CodeQRBadSignature, policy.CodeNoRules, policy.CodeRuleMissing, policy.CodeAppBlocked,
}

func TestCodeMessages(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCodes {
		if seen[c.String()] {
			t.Errorf("code %q defined twice", c)
		}
		seen[c.String()] = true
		m := c.Message()
		if m.ZH == "" || m.EN == "" || strings.HasPrefix(m.EN, "Refused: ") {
			t.Errorf("code %s has no proper message: %+v", c, m)
		}
		if m.ZH == m.EN {
			t.Errorf("code %s: Chinese text equals English %q", c, m.EN)
		}
		if c.Allows() != (c == policy.CodeOK || c == policy.CodeEmergency) {
			t.Errorf("code %s allows = %v", c, c.Allows())
		}
	}
	if got := policy.CodeLost.Message().String(); got != "挂失卡 / Card reported lost" {
		t.Errorf("lost shows %q", got)
	}
	if got := policy.CodeInsufficient.Message().String(); got != "余额不足 / Insufficient balance" {
		t.Errorf("insufficient shows %q", got)
	}
	if m := policy.Code("from_the_future").Message(); m.EN != "Refused: from_the_future" || m.ZH == "" {
		t.Errorf("unknown code shows %+v", m)
	}
}

func TestCheckStatus(t *testing.T) {
	tests := []struct {
		listed offline.Reason
		card   byte
		want   policy.Code
	}{
		{0, 0, policy.CodeOK},
		{offline.ReasonExpired, 0, policy.CodeExpired},
		{0, 0x03, policy.CodeLocked},
		{offline.ReasonDormant, 0x02, policy.CodeFrozen},
		{offline.ReasonFrozen, 0x01, policy.CodeLost},
		{offline.ReasonLost, 0x02, policy.CodeLost},
		{offline.ReasonLost, 0x04, policy.CodeCancelled},
		{offline.ReasonCancelled, 0x01, policy.CodeCancelled},
		{offline.ReasonExpired, 0x03, policy.CodeLocked},
		{offline.ReasonDormant, 0xff, policy.CodeCardStatus},
		{offline.ReasonCancelled, 0xff, policy.CodeCancelled},
		{200, 0, policy.CodeCardStatus},
	}
	for _, tc := range tests {
		if got := policy.CheckStatus(tc.listed, tc.card); got != tc.want {
			t.Errorf("CheckStatus(%s, %#x) = %s, want %s", tc.listed, tc.card, got, tc.want)
		}
	}
}

// TestCheckCardStatus: the card's 解挂 version (file 0x12) against the
// version of the status list held. A list strictly older than the card's
// version predates the unfreeze: its entry is ignored and the card's own
// byte decides. An equal or newer list decides as CheckStatus (the
// stricter of list and card), and a card without a version (0) never
// overrides the list.
func TestCheckCardStatus(t *testing.T) {
	card := func(status byte, version uint64) policy.Card {
		return policy.Card{No: "10012026090100000001", Status: status, StatusListVersion: version}
	}
	tests := []struct {
		name        string
		listed      offline.Reason
		listVersion uint64
		card        policy.Card
		want        policy.Code
	}{
		{"older list, unfrozen card passes", offline.ReasonLost, 7, card(0, 8), policy.CodeOK},
		{"much older list, frozen entry ignored", offline.ReasonFrozen, 1, card(0, 8), policy.CodeOK},
		{"older list, card's own lost byte still refuses", offline.ReasonLost, 7, card(0x01, 8), policy.CodeLost},
		{"older list, card's own locked byte refuses", 0, 7, card(0x03, 8), policy.CodeLocked},
		{"older list, card's unknown byte fails closed", offline.ReasonLost, 7, card(0x7f, 8), policy.CodeCardStatus},
		{"same version: the list decides", offline.ReasonLost, 8, card(0, 8), policy.CodeLost},
		{"newer list: the list decides", offline.ReasonLost, 9, card(0, 8), policy.CodeLost},
		{"newer list: the stricter wins", offline.ReasonDormant, 9, card(0x04, 8), policy.CodeCancelled},
		{"card never unfrozen: the list decides", offline.ReasonLost, 7, card(0, 0), policy.CodeLost},
		{"no list held, card version set", 0, 0, card(0, 8), policy.CodeOK},
		{"not listed, newer list", 0, 9, card(0, 8), policy.CodeOK},
	}
	for _, tc := range tests {
		if got := policy.CheckCardStatus(tc.listed, tc.listVersion, tc.card); got != tc.want {
			t.Errorf("%s: CheckCardStatus(%s, %d, version %d status %#x) = %s, want %s",
				tc.name, tc.listed, tc.listVersion, tc.card.StatusListVersion, tc.card.Status, got, tc.want)
		}
	}
}

func TestCheckValidity(t *testing.T) {
	from, to := policy.MakeDate(2022, 9, 1), policy.MakeDate(2026, 6, 30)
	tests := []struct {
		from, to, today policy.Date
		want            policy.Code
	}{
		{from, to, policy.MakeDate(2024, 1, 1), policy.CodeOK},
		{from, to, from, policy.CodeOK},
		{from, to, to, policy.CodeOK},
		{from, to, policy.MakeDate(2026, 7, 1), policy.CodeExpired},
		{from, to, policy.MakeDate(2022, 8, 31), policy.CodeNotYetValid},
		{0, to, policy.MakeDate(1999, 1, 1), policy.CodeOK},
		{from, 0, policy.MakeDate(2999, 1, 1), policy.CodeOK},
	}
	for _, tc := range tests {
		if got := policy.CheckValidity(tc.from, tc.to, tc.today); got != tc.want {
			t.Errorf("CheckValidity(%d, %d, %d) = %s, want %s", tc.from, tc.to, tc.today, got, tc.want)
		}
	}
}

func TestDate(t *testing.T) {
	if d := policy.DateOf(time.Date(2026, 2, 28, 23, 59, 0, 0, cst)); d != 20260228 {
		t.Errorf("DateOf = %d", d)
	}
	if d := policy.DateOf(time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC).In(cst)); d != 20260301 {
		t.Errorf("DateOf in CST = %d", d)
	}
	if d := policy.MakeDate(10000, 1, 1); d != 0 {
		t.Errorf("year 10000 = %d, want 0", d)
	}
	if !(policy.MakeDate(2026, 12, 31) < policy.MakeDate(2027, 1, 1)) {
		t.Error("dates do not order")
	}
}

func TestClassPrice(t *testing.T) {
	tests := []struct {
		name      string
		list      int64
		p         *protocol.ClassPricing
		surcharge bool
		want      int64
		ok        bool
	}{
		{"no pricing", 1234, nil, true, 1234, true},
		{"percent 0 is list", 1234, &protocol.ClassPricing{}, true, 1234, true},
		{"half up", 5, &protocol.ClassPricing{Percent: 50}, false, 3, true},
		{"just below half", 149, &protocol.ClassPricing{Percent: 1}, false, 1, true},
		{"just at half", 150, &protocol.ClassPricing{Percent: 1}, false, 2, true},
		{"surcharge added", 1000, &protocol.ClassPricing{Percent: 80, SurchargeFen: 150}, true, 950, true},
		{"surcharge left out", 1000, &protocol.ClassPricing{Percent: 80, SurchargeFen: 150}, false, 800, true},
		{"markup", 1000, &protocol.ClassPricing{Percent: 120}, false, 1200, true},
		{"discounted to nothing", 1, &protocol.ClassPricing{Percent: 10}, false, 0, false},
		{"zero list", 0, nil, false, 0, false},
		{"negative list", -5, nil, false, 0, false},
		{"largest list", math.MaxUint32, nil, false, math.MaxUint32, true},
		{"largest list with markup", math.MaxUint32, &protocol.ClassPricing{Percent: math.MaxUint16}, false, 0, false},
		{"surcharge overflows 32 bits", math.MaxUint32, &protocol.ClassPricing{SurchargeFen: 1}, true, 0, false},
		{"negative surcharge", 1000, &protocol.ClassPricing{SurchargeFen: -1}, true, 0, false},
		{"huge surcharge", 1000, &protocol.ClassPricing{SurchargeFen: math.MaxInt64}, true, 0, false},
	}
	for _, tc := range tests {
		got, ok := policy.ClassPrice(tc.list, tc.p, tc.surcharge)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: ClassPrice = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMealAtAndProfileOpen(t *testing.T) {
	meals := canteenRules().Meals
	for _, c := range []struct {
		minute int
		want   string
	}{{389, ""}, {390, "breakfast"}, {539, "breakfast"}, {540, ""}, {1319, ""}, {1320, "late"}, {1439, "late"}, {0, "late"}, {59, "late"}, {60, ""}} {
		m, ok := policy.MealAt(meals, c.minute)
		if ok != (c.want != "") || m.Name != c.want {
			t.Errorf("minute %d: %q, %v; want %q", c.minute, m.Name, ok, c.want)
		}
	}
	empty := &protocol.TimeProfile{Windows: []protocol.TimeWindow{{Days: everyDay, Start: 600, End: 600}}}
	if policy.ProfileOpen(empty, at(2026, 11, 23, 10, 0, 0)) {
		t.Error("a zero-length window is open")
	}
	allDay := &protocol.TimeProfile{Windows: []protocol.TimeWindow{{Days: 1 << time.Monday, Start: 0, End: 1440}}}
	if !policy.ProfileOpen(allDay, at(2026, 11, 23, 0, 0, 0)) || !policy.ProfileOpen(allDay, at(2026, 11, 23, 23, 59, 59)) {
		t.Error("all-day Monday window is closed on Monday")
	}
	if policy.ProfileOpen(allDay, at(2026, 11, 24, 0, 0, 0)) {
		t.Error("all-day Monday window is open on Tuesday")
	}
}

func TestPricingFor(t *testing.T) {
	r := canteenRules()
	if p := policy.PricingFor(r, classStaff); p == nil || p.Percent != 90 || p.SurchargeFen != 100 {
		t.Errorf("staff pricing %+v", p)
	}
	if p := policy.PricingFor(r, classNobody); p != nil {
		t.Errorf("pricing for a class without one: %+v", p)
	}
	if p := policy.PricingFor(nil, classStaff); p != nil {
		t.Errorf("pricing without rules: %+v", p)
	}
}
