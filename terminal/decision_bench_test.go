package terminal_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/pos"
)

// decisionEntries is the status list size the tap decision is budgeted at
// (DESIGN.md 7: a campus's lost, frozen and cancelled cards over years).
const decisionEntries = 1_000_000

// decisionCard is card i of the benchmark: the even ones are listed.
func decisionCard(i int) string { return fmt.Sprintf("1001%016d", i) }

// decisionStore builds a store holding decisionEntries listed cards (every
// even card number below 2×decisionEntries) in dir and opens it.
func decisionStore(b *testing.B, dir string) *offline.Store {
	b.Helper()
	path := filepath.Join(dir, "yktd.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "bench-decision"})
	if err != nil {
		b.Fatal(err)
	}
	es := make([]offline.StatusEntry, decisionEntries)
	since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range es {
		es[i] = offline.StatusEntry{CardNo: decisionCard(2 * i), Reason: offline.Reason(1 + i%5), Since: since.Add(time.Duration(i) * time.Second)}
	}
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: es}); err != nil {
		b.Fatal(err)
	}
	// Reopen, as a terminal does after a restart: nothing cached from the
	// snapshot's writes.
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = offline.Open(path, offline.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// decisionRules are rules as a campus sends them: meal periods, class
// pricing, and a dormitory door with groups and a time profile.
func decisionRules() *protocol.Rules {
	r := gateRules()
	r.Meals = []protocol.MealPeriod{
		{Name: "breakfast", Start: 6 * 60, End: 9 * 60, MaxUses: 2},
		{Name: "lunch", Start: 11 * 60, End: 13*60 + 30, MaxUses: 3},
		{Name: "dinner", Start: 17 * 60, End: 19*60 + 30, MaxUses: 3},
	}
	r.Classes = []protocol.ClassPricing{{Class: 1, Percent: 100}, {Class: 2, Percent: 100, SurchargeFen: 100}}
	return r
}

// BenchmarkTapDecision times the decision of a tap: the status lookup in
// a real store of 1M listed cards and the policy (DecidePOS for a canteen
// POS, DecideGate for a dormitory gate), as the flows run them. Half the
// cards tapped are listed. It reports ns/op and the p50 and p99 of every
// timed tap (DESIGN.md 7: p99 < 50µs). Run with -benchtime=200000x for a
// p99 over 200k taps.
func BenchmarkTapDecision(b *testing.B) {
	s := decisionStore(b, b.TempDir())
	rules := decisionRules()
	loc := time.UTC
	now := testNow // Thursday 11:45, lunch
	rng := rand.New(rand.NewPCG(7, 11))
	cards := make([]string, 1<<16)
	for i := range cards {
		cards[i] = decisionCard(rng.IntN(2 * decisionEntries))
	}
	card := func(no string) policy.Card {
		return policy.Card{No: no, Class: 1, ValidFrom: 20260901, ValidTo: 20300831, Balance: 10000}
	}

	b.Run("pos", func(b *testing.B) {
		dev := pos.PolicyOf(config.POS{Mode: config.ModeFixed, PriceFen: 1250, PINLimitFen: 5000,
			RepeatGuard: config.Duration(3 * time.Second)}, loc)
		usage := map[string]policy.Usage{}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			no := cards[i%len(cards)]
			t0 := time.Now()
			e, listed, err := s.Lookup(no)
			var reason offline.Reason
			if listed {
				reason = e.Reason
			}
			d := policy.DecidePOS(policy.POSInput{Card: card(no), Listed: reason, Device: dev, Rules: rules,
				Usage: usage[no], Now: now})
			lat = append(lat, time.Since(t0))
			if err != nil || d.Allow == listed {
				b.Fatalf("tap of %s: listed %v, decision %+v, %v", no, listed, d, err)
			}
		}
		b.StopTimer()
		reportDecision(b, lat)
	})

	b.Run("gate", func(b *testing.B) {
		dev := policy.Gate{Door: "dorm-3-east", Accept: []string{policy.KindCard}, AntiPassback: 10 * time.Minute, Location: loc}
		passback := map[string]policy.Passback{}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			no := cards[i%len(cards)]
			t0 := time.Now()
			e, listed, err := s.Lookup(no)
			var reason offline.Reason
			if listed {
				reason = e.Reason
			}
			d := policy.DecideGate(policy.GateInput{
				Credential: policy.Credential{Kind: policy.KindCard, ID: no, Class: 1, Card: card(no)},
				Listed:     reason, Direction: policy.In, Device: dev, Rules: rules, Passback: passback[no], Now: now})
			lat = append(lat, time.Since(t0))
			if err != nil || d.Allow == listed {
				b.Fatalf("pass of %s: listed %v, decision %+v, %v", no, listed, d, err)
			}
		}
		b.StopTimer()
		reportDecision(b, lat)
	})
}

// reportDecision reports the p50 and p99 of the timed taps.
func reportDecision(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
