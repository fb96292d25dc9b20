package offline_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"golang.org/x/sys/unix"
)

const benchEntries = 1_000_000

// The 1M-entry store is built once per test process, in a directory
// TestMain removes.
var (
	bigOnce sync.Once
	bigDir  string
	bigPath string
	bigErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bigDir != "" {
		os.RemoveAll(bigDir)
	}
	os.Exit(code)
}

// benchCard returns listed card i; odd multiples in between are not listed.
func benchCard(i int) string { return fmt.Sprintf("2%09d", 2*i) }

func bigEntries() []offline.StatusEntry {
	es := make([]offline.StatusEntry, benchEntries)
	since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range es {
		es[i] = offline.StatusEntry{CardNo: benchCard(i), Reason: offline.Reason(1 + i%5), Since: since.Add(time.Duration(i) * time.Second)}
	}
	return es
}

func bigStore(b *testing.B) string {
	b.Helper()
	bigOnce.Do(func() {
		bigDir, bigErr = os.MkdirTemp("", "yktd-bench")
		if bigErr != nil {
			return
		}
		bigPath = filepath.Join(bigDir, "big.db")
		var s *offline.Store
		if s, bigErr = offline.Open(bigPath, offline.Options{DeviceID: "bench"}); bigErr != nil {
			return
		}
		bigErr = s.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: bigEntries()})
		s.Close()
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkStatusLookup1M is the tap's status check at 1M entries (budget
// p99 < 50µs): half the cards looked up are listed, half are not.
func BenchmarkStatusLookup1M(b *testing.B) {
	s, err := offline.Open(bigStore(b), offline.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := rng.IntN(2 * benchEntries)
		card := fmt.Sprintf("2%09d", n)
		t := time.Now()
		_, found, err := s.Lookup(card)
		lat = append(lat, time.Since(t))
		if err != nil || found != (n%2 == 0) {
			b.Fatalf("Lookup(%s) = %v, %v", card, found, err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkStatusSnapshot1M applies a 1M-entry snapshot (budget < 5s).
func BenchmarkStatusSnapshot1M(b *testing.B) {
	es := bigEntries()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), fmt.Sprint("snap", i))
		s, err := offline.Open(path, offline.Options{DeviceID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: es}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
	}
}

// BenchmarkStatusDelta10k applies a 10k-change delta to the 1M-entry list
// (budget < 100ms), digest recomputation included.
func BenchmarkStatusDelta10k(b *testing.B) {
	src := bigStore(b)
	path := filepath.Join(b.TempDir(), "delta.db")
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeSynced(path, data); err != nil {
		b.Fatal(err)
	}
	s, err := offline.Open(path, offline.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		si, _ := s.StatusInfo()
		d := offline.StatusDelta{From: si.Version, To: si.Version + 1, Changes: make([]offline.StatusChange, 10_000)}
		seen := make(map[int]bool, len(d.Changes)) // a delta names a card once
		for j := range d.Changes {
			n := rng.IntN(2 * benchEntries)
			for seen[n] {
				n = rng.IntN(2 * benchEntries)
			}
			seen[n] = true
			d.Changes[j] = offline.StatusChange{CardNo: fmt.Sprintf("2%09d", n), Reason: offline.ReasonFrozen, Since: since, Remove: j%3 == 0}
		}
		b.StartTimer()
		if err := s.ApplyDelta(d); err != nil {
			b.Fatal(err)
		}
	}
}

// writeSynced writes a file and fsyncs it, so that flushing the copy is
// not charged to the first operation measured on it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkIntentOpenVsFsync interleaves a durable intent open with a bare
// write(4 KiB)+fdatasync on the same disk and reports both and their ratio
// (budget ≤ 2.5).
func BenchmarkIntentOpenVsFsync(b *testing.B) {
	dir := b.TempDir()
	s, err := offline.Open(filepath.Join(dir, "intent.db"), offline.Options{DeviceID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f, err := os.OpenFile(filepath.Join(dir, "bare"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	var tIntent, tSync time.Duration
	p := purchase("2024000001", 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		in, err := s.OpenIntent(p)
		tIntent += time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		t = time.Now()
		if _, err := f.WriteAt(page, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		tSync += time.Since(t)
		b.StopTimer()
		if _, err := s.VoidIntent(in.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(tIntent.Nanoseconds())/float64(b.N), "intent-ns/op")
	b.ReportMetric(float64(tSync.Nanoseconds())/float64(b.N), "fsync4k-ns/op")
	b.ReportMetric(float64(tIntent)/float64(tSync), "ratio")
}

// BenchmarkStartToReady1M opens the 1M-entry store and answers the first
// lookup (budget < 200ms): Open decodes no record or entry; its one pass
// is boltfile.Walk reading each page in use once (about 3 ms of the
// budget on a laptop with the file cached).
func BenchmarkStartToReady1M(b *testing.B) {
	path := bigStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := offline.Open(path, offline.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, found, err := s.Lookup(benchCard(i % benchEntries)); err != nil || !found {
			b.Fatalf("first lookup: %v %v", found, err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// BenchmarkResidentMemory1M measures the resident memory of a fresh
// process that opens the 1M-entry store and does 200k random lookups
// (budget < 40 MB), the way the field would see it: the child is
// internal/rssprobe, a static binary (CGO_ENABLED=0, -trimpath, -s -w, as
// releases are built) that does nothing but open and look up, so the figure
// is the store's pages touched plus a Go runtime, not the test framework.
// VmRSS = RssAnon (heap, stacks) + RssFile (binary text and the mmapped
// store pages read).
func BenchmarkResidentMemory1M(b *testing.B) {
	path := bigStore(b)
	probe := filepath.Join(b.TempDir(), "rssprobe")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", probe, "./internal/rssprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Skipf("cannot build the probe (go toolchain needed): %v\n%s", err, out)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := exec.Command(probe, "-db", path, "-n", "200000", "-range", strconv.Itoa(2*benchEntries)).Output()
		if err != nil {
			b.Fatalf("probe: %v\n%s", err, out)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 4 && f[0] == "MEM" {
				kb, _ := strconv.ParseFloat(f[2], 64)
				b.ReportMetric(kb/1024, strings.TrimSuffix(f[1], ":")+"-MB")
			}
		}
	}
}
