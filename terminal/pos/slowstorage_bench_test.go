package pos_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
	"golang.org/x/sys/unix"
)

// BenchmarkSaleSlowStorage sells on storage whose every fsync and fdatasync
// takes 10 ms longer (what SD cards and eMMC do), injected by strace into a
// child run of this binary; "native" is the same child without strace. Per
// sale it reports, from the tap:
//
//   - display-p50/p99-ms: the result shown (the intent's commit and the
//     card's answer: what the customer waits for);
//   - booked-p50/p99-ms: the completion committed too, which is where the
//     result was shown before the completion moved behind the display;
//
// and, in the same child, the two ways to make an intent durable: the
// store's bbolt commit (intent-bbolt-p50-ms, two fdatasyncs) and a 256-byte
// append to a pre-zeroed log with one fdatasync (intent-log-p50-ms), the
// path to one fsync that was measured and not built.
//
//	go test ./terminal/pos -run '^$' -bench SaleSlowStorage -benchtime 1x -count 5
func BenchmarkSaleSlowStorage(b *testing.B) {
	if out := os.Getenv(slowChildEnv); out != "" {
		slowChild(b, out)
		return
	}
	b.Run("native", func(b *testing.B) { benchSlow(b, false) })
	b.Run("fsync+10ms", func(b *testing.B) { benchSlow(b, true) })
}

const (
	slowChildEnv = "YKTD_SLOW_CHILD"
	slowSales    = 100
	slowIntents  = 30
)

// slowResult is what the child measured, in nanoseconds.
type slowResult struct {
	Display, Booked, IntentBolt, IntentLog []time.Duration
}

func benchSlow(b *testing.B, delay bool) {
	var all slowResult
	for range b.N {
		out := filepath.Join(b.TempDir(), "slow.json")
		testArgs := []string{"-test.run=^$", "-test.bench=^BenchmarkSaleSlowStorage$", "-test.benchtime=1x"}
		if delay {
			underStrace(b, slowChildEnv+"="+out, testArgs, "-o", "/dev/null", "--seccomp-bpf",
				"-e", "trace=fsync,fdatasync", "-e", "inject=fsync,fdatasync:delay_exit=10000")
		} else {
			cmd := exec.Command(os.Args[0], testArgs...)
			cmd.Env = append(os.Environ(), slowChildEnv+"="+out)
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("child: %v\n%s", err, msg)
			}
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			b.Fatal(err)
		}
		var r slowResult
		if err := json.Unmarshal(raw, &r); err != nil {
			b.Fatal(err)
		}
		all.Display = append(all.Display, r.Display...)
		all.Booked = append(all.Booked, r.Booked...)
		all.IntentBolt = append(all.IntentBolt, r.IntentBolt...)
		all.IntentLog = append(all.IntentLog, r.IntentLog...)
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(pct(all.Display, 50)), "display-p50-ms")
	b.ReportMetric(ms(pct(all.Display, 99)), "display-p99-ms")
	b.ReportMetric(ms(pct(all.Booked, 50)), "booked-p50-ms")
	b.ReportMetric(ms(pct(all.Booked, 99)), "booked-p99-ms")
	b.ReportMetric(ms(pct(all.IntentBolt, 50)), "intent-bbolt-p50-ms")
	b.ReportMetric(ms(pct(all.IntentLog, 50)), "intent-log-p50-ms")
	b.ReportMetric(0, "ns/op") // the child's figures are the result
}

// slowChild sells slowSales times on a real store, timing each sale from
// the tap to the display and to HandleCard's return, then times the two
// kinds of durable intent, and writes the figures to out.
func slowChild(b *testing.B, out string) {
	r := newRig(b, config.POS{Mode: config.ModeFixed, PriceFen: 1})
	// The store as yktd run opens it: a lone POS's completion does not
	// wait for company in the group commit.
	if err := r.store.Close(); err != nil {
		b.Fatal(err)
	}
	store, err := offline.Open(r.path, offline.Options{Clock: r.clock, GroupCommitDelay: time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	r.store = store
	var shown time.Time
	p, err := pos.New(pos.Options{
		Store: r.store, SAM: r.sam, Display: timingDisplay{Display: r.ui, at: &shown}, Keypad: r.ui,
		Now: r.clock.Now, Location: time.UTC, Config: r.cfg,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Startup(); err != nil {
		b.Fatal(err)
	}
	card := demoCard(b, "staff", "", 100_000)
	var res slowResult
	for i := 0; i <= slowSales; i++ {
		c := r.tap(card)
		start := time.Now()
		got, err := p.HandleCard(r.ctx, c, 0)
		booked := time.Since(start)
		r.rdr.Remove()
		if err != nil || got.Outcome != pos.Paid {
			b.Fatalf("sale %d: %+v, %v", i, got, err)
		}
		r.clock.Advance(time.Minute)
		if i == 0 {
			continue // the store's first commits grow the file
		}
		res.Display = append(res.Display, shown.Sub(start))
		res.Booked = append(res.Booked, booked)
	}
	res.IntentBolt = boltIntents(b, r.store)
	res.IntentLog = logIntents(b, filepath.Join(filepath.Dir(r.path), "intent.log"))
	raw, err := json.Marshal(res)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(out, raw, 0o600); err != nil {
		b.Fatal(err)
	}
}

// boltIntents times the store's durable intent (one bbolt commit).
func boltIntents(b *testing.B, s *offline.Store) []time.Duration {
	p := offline.PurchaseIntent{
		CardNo: "2024000001", Amount: 100, BalanceBefore: 10_000, CardCounter: 7,
		TerminalID: []byte{0, 0, 0, 0, 0, 1}, TerminalSeq: 99, TxTime: []byte{0x20, 0x26, 0x12, 0x07, 0x12, 0, 0},
		CardSerial: make([]byte, 8), KeyIndex: 1, MAC1: []byte{1, 2, 3, 4},
	}
	var d []time.Duration
	for range slowIntents {
		start := time.Now()
		in, err := s.OpenIntent(p)
		d = append(d, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.VoidIntent(in.ID, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	return d
}

// logIntents times the path to one fsync: a 256-byte intent written into
// a pre-zeroed, already synced file and fdatasync'd (no size or extent
// change, so the one flush carries only the data).
func logIntents(b *testing.B, path string) []time.Duration {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const rec = 256
	if _, err := f.Write(make([]byte, rec*slowIntents)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, rec)
	var d []time.Duration
	for i := range slowIntents {
		buf[0] = byte(i)
		start := time.Now()
		if _, err := f.WriteAt(buf, int64(i*rec)); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	return d
}

// timingDisplay notes when a result is shown.
type timingDisplay struct {
	ui.Display
	at *time.Time
}

func (d timingDisplay) Show(ctx context.Context, m ui.Message) error {
	*d.at = time.Now()
	return d.Display.Show(ctx, m)
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
