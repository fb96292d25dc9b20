package terminal_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// BenchmarkMetricsTapOverhead runs whole POS sales (HandleCard on a
// virtual card, the software SAM, a real store in b.TempDir(), the group
// commit delay yktd run uses) and alternates, in the same run, sales
// followed by what the daemon's handle() adds for the metrics (the tap
// counter, four phase histograms, the commit histogram) with bare sales.
// It reports both medians, their difference, and the recording alone
// (record-p50-ns, timed around the call). The flow's own Timing (eight
// clock reads inside HandleCard) is in both.
func BenchmarkMetricsTapOverhead(b *testing.B) {
	store, err := offline.Open(filepath.Join(b.TempDir(), "yktd.db"), offline.Options{DeviceID: "bench-pos",
		GroupCommitDelay: time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	applySignedList(b, store, 1)
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		b.Fatal(err)
	}
	disp := uitest.New()
	p, err := pos.New(pos.Options{Store: store, SAM: s, Display: disp, Keypad: disp, Location: time.UTC,
		Config: config.POS{Mode: config.ModeFixed, PriceFen: 1}})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Startup(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdr := simReader(ctx)
	card := rdr.tap(b)
	record := terminal.POSTapRecorder()

	var on, off, rec []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%50000 == 0 { // a card's offline counter allows 65535 purchases
			b.StopTimer()
			card = rdr.tap(b)
			b.StartTimer()
		}
		start := time.Now()
		res, err := p.HandleCard(ctx, card, 0)
		if err != nil || res.Outcome != pos.Paid {
			b.Fatalf("sale %d: %+v %v", i, res, err)
		}
		if i%2 == 0 {
			off = append(off, time.Since(start))
			continue
		}
		r := time.Now()
		record(res)
		rec = append(rec, time.Since(r))
		on = append(on, time.Since(start))
	}
	b.StopTimer()
	if len(on) == 0 {
		return
	}
	onP, offP := percentile(on, 50), percentile(off, 50)
	b.ReportMetric(float64(onP.Nanoseconds()), "on-p50-ns")
	b.ReportMetric(float64(offP.Nanoseconds()), "off-p50-ns")
	b.ReportMetric(float64((onP - offP).Nanoseconds()), "diff-p50-ns")
	b.ReportMetric(float64(percentile(rec, 50).Nanoseconds()), "record-p50-ns")
}
