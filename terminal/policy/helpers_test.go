package policy_test

import (
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

// cst is the device time zone of the tests (Asia/Shanghai without tzdata).
var cst = time.FixedZone("CST", 8*3600)

// at returns a time on the device's clock.
func at(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, cst)
}

// Monday 2026-11-23 12:00 CST.
var noon = at(2026, 11, 23, 12, 0, 0)

const (
	classStudent = 1
	classStaff   = 2
	classVisitor = 3
	classBroken  = 7
	classNobody  = 9
)

func student() policy.Card {
	return policy.Card{
		No:        "20260000000000000001",
		Class:     classStudent,
		ValidFrom: policy.MakeDate(2022, 9, 1),
		ValidTo:   policy.MakeDate(2027, 6, 30),
		Balance:   10000,
	}
}

// canteenRules are the POS rules of the tests: class pricing and meals.
func canteenRules() *protocol.Rules {
	return &protocol.Rules{
		Version: 3,
		Prices:  map[string]int64{"set-meal": 1500},
		Classes: []protocol.ClassPricing{
			{Class: classStudent, Name: "student"},
			{Class: classStaff, Name: "staff", Percent: 90, SurchargeFen: 100},
			{Class: classVisitor, Name: "visitor", Percent: 90},
		},
		Meals: []protocol.MealPeriod{
			{Name: "breakfast", Start: 6*60 + 30, End: 9 * 60, MaxUses: 1},
			{Name: "lunch", Start: 11 * 60, End: 13*60 + 30, MaxUses: 2},
			{Name: "dinner", Start: 17 * 60, End: 19*60 + 30},
			{Name: "late", Start: 22 * 60, End: 60},
		},
	}
}

func keyedPOS() policy.POS {
	return policy.POS{
		Mode:        policy.ModeKeyed,
		PINLimitFen: 5000,
		RepeatGuard: 3 * time.Second,
		MaxSaleFen:  100000,
		Location:    cst,
	}
}

const (
	doorDorm = "dorm-3-north"
	doorLab  = "lab-1"
	staffNo  = "20260000000000009999"
)

// Days masks (bit 0 = Sunday).
const (
	weekdays uint8 = 0b0111110
	weekend  uint8 = 0b1000001
	everyDay uint8 = 0b1111111
)

// gateRules are the access rules of the tests.
func gateRules() *protocol.Rules {
	return &protocol.Rules{
		Version: 7,
		Doors: []protocol.Door{
			{ID: doorDorm, AntiPassbackSec: 60},
			{ID: doorLab, SecondFactor: true},
		},
		Credentials: map[string][]string{doorLab: {"card", "qr"}},
		Groups: []protocol.AccessGroup{
			{ID: "students", Doors: []string{doorDorm}, Profile: "dorm-hours", Classes: []uint8{classStudent}},
			{ID: "lab-staff", Doors: []string{doorLab, doorDorm}, Profile: "always", Cards: []string{staffNo}},
			{ID: "broken", Doors: []string{doorDorm}, Profile: "no-such-profile", Classes: []uint8{classBroken}},
			{ID: "night-guards", Doors: []string{doorDorm}, Profile: "night", Classes: []uint8{classVisitor}},
		},
		Profiles: []protocol.TimeProfile{
			{ID: "dorm-hours", Windows: []protocol.TimeWindow{
				{Days: weekdays, Start: 6 * 60, End: 23 * 60},
				{Days: weekend, Start: 7 * 60, End: 23*60 + 30},
			}},
			{ID: "always", Windows: []protocol.TimeWindow{{Days: everyDay, Start: 0, End: 1440}}},
			// Friday and Saturday nights, 22:00 to 06:00 the next morning.
			{ID: "night", Windows: []protocol.TimeWindow{{Days: 1<<5 | 1<<6, Start: 22 * 60, End: 6 * 60}}},
		},
		Holidays: []protocol.Holiday{
			{Date: "2026-10-01", Name: "National Day"},
			{Date: "2026-12-25", Name: "winter break", Profile: "night"},
			{Date: "2027-01-01", Name: "broken", Profile: "no-such-profile"},
		},
	}
}

func dormGate() policy.Gate {
	return policy.Gate{
		Door:     doorDorm,
		Accept:   []string{"card", "phone", "recogniser"},
		QRSkew:   30 * time.Second,
		Location: cst,
	}
}

func cardAtDorm() policy.GateInput {
	c := student()
	return policy.GateInput{
		Credential: policy.Credential{Kind: policy.KindCard, ID: c.No, Class: c.Class, Card: c},
		Direction:  policy.In,
		Device:     dormGate(),
		Rules:      gateRules(),
		Now:        noon,
	}
}

func qrClaims(now time.Time) protocol.QRClaims {
	return protocol.QRClaims{
		Subject:  "20260000000000000001",
		IssuedAt: now.Unix() - 5,
		Expires:  now.Unix() + 55,
		Nonce:    []byte("0123456789abcdef"),
		Class:    classStudent,
	}
}
