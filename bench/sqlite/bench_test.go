package sqlite_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/bench/sqlite"
	"github.com/openykt/yktd/offline"
)

// engines are the stores BenchmarkSale runs, in one process and one run.
var engines = []struct {
	name string
	open func(dir string) (sqlite.Engine, error)
}{
	// The product as its benchmarks open it (offline/bench_test.go): the
	// completion rides the group commit and waits up to its 2 ms delay
	// for company, which a lone sale never has.
	{"bbolt", func(dir string) (sqlite.Engine, error) {
		return sqlite.OpenBolt(filepath.Join(dir, "yktd.db"), offline.Options{DeviceID: "bench"})
	}},
	// The same code with the group commit's wait cut to 1 µs: the store
	// work of the completion without the idle wait.
	{"bbolt-gc1us", func(dir string) (sqlite.Engine, error) {
		return sqlite.OpenBolt(filepath.Join(dir, "yktd.db"), offline.Options{DeviceID: "bench", GroupCommitDelay: time.Microsecond})
	}},
	{"sqlite", func(dir string) (sqlite.Engine, error) {
		return sqlite.Open(filepath.Join(dir, "sale.db"), "bench")
	}},
}

// BenchmarkSale is one sale's store work per op on each engine: the durable
// intent (one committed transaction, before DEBIT) then the completion (a
// second one). ns/op is intent+completion; intent-ns/op is the intent
// commit alone, timed inside the same iterations, and intent-p99-ns its
// 99th percentile (SQLite's checkpoints land on some commits). After the loop the
// journal is verified and counted, so that a run that stored nothing
// fails instead of reporting a speed.
func BenchmarkSale(b *testing.B) {
	for _, eng := range engines {
		b.Run("engine="+eng.name, func(b *testing.B) {
			e, err := eng.open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			p := purchase("2024000001", 125)
			var tIntent time.Duration
			var n uint64
			lat := make([]time.Duration, 0, 4096)
			for b.Loop() {
				t := time.Now()
				id, err := e.OpenIntent(p)
				d := time.Since(t)
				tIntent += d
				lat = append(lat, d)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.CompleteIntent(id, done); err != nil {
					b.Fatal(err)
				}
				n++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(tIntent.Nanoseconds())/float64(n), "intent-ns/op")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "intent-p99-ns")
			records, open, err := e.Check()
			if err != nil || records != 2*n || open != 0 {
				b.Fatalf("after %d sales: %d records, %d open intents, %v; want %d, 0, nil", n, records, open, err, 2*n)
			}
		})
	}
}
