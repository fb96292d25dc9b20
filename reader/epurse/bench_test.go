package epurse

import (
	"context"
	"testing"
	"time"
)

// timedCard measures the time spent inside Transmit (the card's side),
// so that the benchmark can report the terminal's own software overhead.
type timedCard struct {
	c  *testCard
	in time.Duration
}

func (t *timedCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	start := time.Now()
	r, err := t.c.Transmit(ctx, cmd)
	t.in += time.Since(start)
	return r, err
}

// BenchmarkPurchase runs a whole purchase (INITIALIZE, SAM MAC1, DEBIT, SAM
// MAC2 check) against an in-memory card and a software SAM. ns/op includes
// the card simulation; terminal-ns/op excludes the time inside Transmit:
// the terminal's crypto (software SAM) and APDU encoding and parsing.
func BenchmarkPurchase(b *testing.B) {
	for _, alg := range []Algorithm{AlgDES, AlgSM4} {
		b.Run(alg.String(), func(b *testing.B) {
			ctx := context.Background()
			tc := newTestCard(alg, 1, 0xFFFFFFFF)
			card := &timedCard{c: tc}
			sam := newSoftSAM()
			req := purchaseReq(tc, 1)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if out := Pay(ctx, card, sam, req, nil); out.Kind != Done {
					b.Fatal(out.Err)
				}
			}
			total := time.Since(start)
			b.ReportMetric(float64(total-card.in)/float64(b.N), "terminal-ns/op")
		})
	}
}
