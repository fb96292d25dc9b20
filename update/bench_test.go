package update

import (
	"bytes"
	"crypto/rand"
	"slices"
	"testing"
	"time"
)

// BenchmarkApply10MB: verify and install a 10 MB binary into the inactive
// slot and switch (fsyncs included), from bytes in memory; the median of
// the runs is reported as median-ms.
func BenchmarkApply10MB(b *testing.B) {
	bin := make([]byte, 10<<20)
	_, _ = rand.Read(bin)
	var times []time.Duration
	for b.Loop() {
		b.StopTimer()
		sl, key, _ := slotsWith(b)
		msg := must(SignManifest(key, testManifest(bin, "1.1.0")))
		b.StartTimer()
		t0 := time.Now()
		rel, err := sl.Open(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sl.Install(rel, bytes.NewReader(bin)); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
	b.SetBytes(int64(len(bin)))
}
