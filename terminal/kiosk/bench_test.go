package kiosk_test

import (
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/kiosk"
)

// BenchmarkClaim is one claim at the kiosk on a strict virtual card with
// the real ledger on loopback HTTP: Claims and Pending, the system PIN,
// INITIALIZE FOR LOAD, the ledger's MAC2, the durable intent, CREDIT FOR
// LOAD, the load record and the TAC's confirmation (from the card in the
// field to the result; the tap itself is not timed). It reports the p50
// and p99 (budget: p50 < 50 ms).
//
//	go test ./terminal/kiosk -run '^$' -bench Claim -benchtime 200x
func BenchmarkClaim(b *testing.B) {
	r := newRig(b)
	card := demoCard(b, "student", "", 5000)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r.addLoad(card, 1)
		c := r.tap(card)
		b.StartTimer()
		start := time.Now()
		res, err := r.kiosk.HandleCard(r.ctx, c)
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err != nil || res.Outcome != kiosk.Loaded {
			b.Fatalf("claim: %+v %v", res, err)
		}
		r.rdr.Remove()
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, "", lat)
}

// reportPercentiles reports the p50 and p99 of lat in milliseconds.
func reportPercentiles(b *testing.B, prefix string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(0.50), prefix+"p50-ms")
	b.ReportMetric(q(0.99), prefix+"p99-ms")
}
