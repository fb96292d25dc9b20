package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// timedCard is the virtual card's reader handle with the time spent inside
// Transmit (the card's side of the exchange) accounted separately.
type timedCard struct {
	card reader.Card
	in   time.Duration
}

func (t *timedCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	start := time.Now()
	r, err := t.card.Transmit(ctx, cmd)
	t.in += time.Since(start)
	return r, err
}

// BenchmarkPurchaseOnVirtualCard runs whole purchases (SELECT, READ BINARY
// 0x15, INITIALIZE, SAM MAC1, DEBIT, SAM MAC2 check) with the software SAM
// against a demo card presented by the virtual reader. terminal-ns/op is
// the terminal's software overhead: the total minus the time inside
// Transmit (DESIGN.md budget: under 1 ms). It includes the software SAM's
// crypto, which a PSAM does in the field.
func BenchmarkPurchaseOnVirtualCard(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		b.Fatal(err)
	}
	r := sim.NewReader("bench", reader.TechISO14443A)
	events := make(chan reader.Event, 4)
	go r.Run(ctx, events)
	// tap issues a fresh staff card with a large balance and presents it: a
	// card's offline counter allows 65535 purchases (then 9402), fewer than
	// a long benchmark runs.
	tap := func() *timedCard {
		var staff sim.Demo
		for _, d := range sim.Catalogue() {
			if d.Name == "staff" {
				staff = d
			}
		}
		staff.Balance = 10_000_000
		card, err := staff.Issue()
		if err != nil {
			b.Fatal(err)
		}
		r.Tap(card)
		for {
			if e := <-events; e.Kind == reader.CardPresent {
				return &timedCard{card: e.Card}
			}
		}
	}
	now := epurse.NewDateTime(time.Date(2026, 10, 8, 11, 45, 30, 0, time.UTC))
	var total, inCard time.Duration
	tc := tap()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%50000 == 0 {
			b.StopTimer()
			inCard += tc.in
			tc = tap()
			b.StartTimer()
		}
		start := time.Now()
		if _, err := epurse.Select(ctx, tc, sim.DefaultAID); err != nil {
			b.Fatal(err)
		}
		pub, err := epurse.ReadPublicData(ctx, tc)
		if err != nil {
			b.Fatal(err)
		}
		out := epurse.Pay(ctx, tc, s, epurse.PurchaseRequest{Amount: 1, Time: now, CardSerial: pub.Factor()}, nil)
		if out.Kind != epurse.Done {
			b.Fatalf("purchase %v: %v", out.Kind, out.Err)
		}
		total += time.Since(start)
	}
	inCard += tc.in
	b.ReportMetric(float64(total-inCard)/float64(b.N), "terminal-ns/op")
	b.ReportMetric(float64(inCard)/float64(b.N), "card-ns/op")
}
