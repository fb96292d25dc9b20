package pos_test

import (
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/pos"
)

// BenchmarkTapNothingToClaim is the POS's added latency per tap when the
// card's account holds nothing to load: the same sale (fixed price, a
// strict virtual card) at a POS with pos.claim_loads on (it asks the real
// ledger on loopback HTTP, which answers nothing to claim) and at one
// with it off, alternating tap by tap in the same run. It reports each
// one's p50 and p99 (from the card in the field to the result) and the
// difference of the p50s (added-p50-ms).
//
//	go test ./terminal/pos -run '^$' -bench TapNothingToClaim -benchtime 300x
func BenchmarkTapNothingToClaim(b *testing.B) {
	on := newClaimRig(b, fixed(1))
	if _, err := on.tl.AddAccount(ledger.AccountParams{ID: "B0001", Card: "10012026090100000077", ValidUntil: "20300831"}); err != nil {
		b.Fatal(err)
	}
	cfgOff := fixed(1)
	no := false
	cfgOff.ClaimLoads = &no
	off := newClaimRig(b, cfgOff)
	cardOn := demoCard(b, "student", "10012026090100000077", 0)
	cardOff := demoCard(b, "student", "10012026090100000077", 0)
	var latOn, latOff []time.Duration
	tap := func(r *claimRig, card *sim.Card, lat *[]time.Duration) {
		b.StopTimer()
		r.clock.Advance(time.Minute) // past the repeat guard
		c := r.tap(card)
		b.StartTimer()
		start := time.Now()
		res, err := r.pos.HandleCard(r.ctx, c, 0)
		*lat = append(*lat, time.Since(start))
		b.StopTimer()
		if err != nil || res.Outcome != pos.Paid || res.Loaded != 0 {
			b.Fatalf("tap: %+v %v", res, err)
		}
		r.rdr.Remove()
		b.StartTimer()
	}
	b.ResetTimer()
	for range b.N {
		tap(on, cardOn, &latOn)
		tap(off, cardOff, &latOff)
	}
	b.StopTimer()
	if on.link.claims.Load() != int32(b.N) || off.link.claims.Load() != 0 {
		b.Fatalf("claims asked: on %d, off %d, want %d and 0", on.link.claims.Load(), off.link.claims.Load(), b.N)
	}
	p50On, p50Off := reportPercentiles(b, "on-", latOn), reportPercentiles(b, "off-", latOff)
	b.ReportMetric(p50On-p50Off, "added-p50-ms")
}

// reportPercentiles reports the p50 and p99 of lat in milliseconds and
// returns the p50.
func reportPercentiles(b *testing.B, prefix string, lat []time.Duration) float64 {
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), prefix+"p50-ms")
	b.ReportMetric(q(0.99), prefix+"p99-ms")
	return q(0.50)
}
