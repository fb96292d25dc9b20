package policy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
)

// bigRules are access rules of a campus-sized gate: 200 doors, 100 groups,
// 20 profiles and 30 holidays, the door under test near the end.
func bigRules() *protocol.Rules {
	r := gateRules()
	for i := range 200 {
		r.Doors = append([]protocol.Door{{ID: fmt.Sprintf("door-%03d", i), AntiPassbackSec: 30}}, r.Doors...)
	}
	var groups []protocol.AccessGroup
	for i := range 100 {
		groups = append(groups, protocol.AccessGroup{
			ID: fmt.Sprintf("g%d", i), Doors: []string{fmt.Sprintf("door-%03d", i), fmt.Sprintf("door-%03d", i+100)},
			Profile: fmt.Sprintf("p%d", i%20), Classes: []uint8{uint8(10 + i%50)}, Cards: []string{fmt.Sprintf("2026%016d", i)},
		})
	}
	r.Groups = append(groups, r.Groups...)
	for i := range 20 {
		r.Profiles = append([]protocol.TimeProfile{{ID: fmt.Sprintf("p%d", i), Windows: []protocol.TimeWindow{{Days: weekdays, Start: 360, End: 1380}}}}, r.Profiles...)
	}
	for i := range 30 {
		r.Holidays = append([]protocol.Holiday{{Date: fmt.Sprintf("2027-02-%02d", i%28+1)}}, r.Holidays...)
	}
	return r
}

func BenchmarkDecidePOS(b *testing.B) {
	in := posBase()
	in.Card.Class = classStaff
	in.Rules.DailyLimitFen = 10000
	in.Usage = policy.Usage{LastSale: noon.Add(-time.Hour), Day: policy.DateOf(noon), TodayFen: 1500, Meal: "lunch", MealUses: 1}
	b.ReportAllocs()
	for b.Loop() {
		if d := policy.DecidePOS(in); !d.Allow {
			b.Fatal(d.Code)
		}
	}
}

func BenchmarkDecideGate(b *testing.B) {
	in := cardAtDorm()
	in.Rules = bigRules()
	in.Passback.In = noon.Add(-time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if d := policy.DecideGate(in); !d.Allow {
			b.Fatal(d.Code)
		}
	}
}
