package policy_test

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

// A canteen sale: the flow reads file 0x15 and the balance, looks the card
// up in the status list, decides, asks for the PIN if told to, debits
// Decision.Amount and then counts the sale in the card's usage.
func ExampleDecidePOS() {
	shanghai := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 23, 12, 5, 0, 0, shanghai)
	rules := &protocol.Rules{
		Classes: []protocol.ClassPricing{{Class: 2, Name: "staff", Percent: 90, SurchargeFen: 100}},
		Meals:   []protocol.MealPeriod{{Name: "lunch", Start: 11 * 60, End: 13 * 60, MaxUses: 2}},
	}
	in := policy.POSInput{
		Card: policy.Card{
			No: "20260000000000000002", Class: 2, Balance: 8000,
			ValidFrom: policy.MakeDate(2020, 9, 1), ValidTo: policy.MakeDate(2030, 8, 31),
		},
		Device: policy.POS{Mode: policy.ModeKeyed, RepeatGuard: 3 * time.Second, Location: shanghai},
		Rules:  rules,
		Amount: 5600, // keyed by the cashier
		Now:    now,
	}
	d := policy.DecidePOS(in)
	fmt.Println(d.Allow, d.Code, d.Amount, d.NeedPIN, d.Meal)

	var use policy.Usage
	use = use.Add(d, now, shanghai) // after the debit went through
	in.Usage, in.Now = use, now.Add(time.Second)
	fmt.Println(policy.DecidePOS(in).Message)

	in.Listed = offline.ReasonLost
	fmt.Println(policy.DecidePOS(in).Message)
	// Output:
	// true ok 5140 true lunch
	// 请勿重复刷卡 / Card already read
	// 挂失卡 / Card reported lost
}

// A dorm gate: groups, time profiles and anti-passback come from the rules;
// only a pass the sensor saw advances the anti-passback state.
func ExampleDecideGate() {
	shanghai := time.FixedZone("CST", 8*3600)
	rules := &protocol.Rules{
		Doors:    []protocol.Door{{ID: "dorm-3", AntiPassbackSec: 60}},
		Groups:   []protocol.AccessGroup{{ID: "residents", Doors: []string{"dorm-3"}, Profile: "day", Classes: []uint8{1}}},
		Profiles: []protocol.TimeProfile{{ID: "day", Windows: []protocol.TimeWindow{{Days: 0x7f, Start: 6 * 60, End: 23 * 60}}}},
	}
	in := policy.GateInput{
		Credential: policy.Credential{Kind: policy.KindCard, ID: "20260000000000000001", Class: 1},
		Direction:  policy.In,
		Device:     policy.Gate{Door: "dorm-3", Accept: []string{policy.KindCard}, Location: shanghai},
		Rules:      rules,
		Now:        time.Date(2026, 11, 23, 22, 30, 0, 0, shanghai),
	}
	d := policy.DecideGate(in)
	fmt.Println(d.Allow, d.Message)

	in.Passback = in.Passback.Passed(in.Direction, in.Now) // the passage sensor saw it
	in.Now = in.Now.Add(10 * time.Second)
	fmt.Println(policy.DecideGate(in).Message)

	in.Now = time.Date(2026, 11, 23, 23, 0, 0, 0, shanghai)
	fmt.Println(policy.DecideGate(in).Message)

	in.Emergency = true // fire alarm input active
	d = policy.DecideGate(in)
	fmt.Println(d.Allow, d.Unlock, d.Code)
	// Output:
	// true 请通过 / Approved
	// 防潜回 请勿重复通行 / Anti-passback: already passed
	// 非通行时段 / Outside access hours
	// true true emergency
}
