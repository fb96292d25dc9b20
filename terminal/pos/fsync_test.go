package pos_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// The fsyncs of one sale, counted by the kernel's view of the process:
// the test runs itself again under strace, which records every fsync and
// fdatasync and the markers the child leaves around each sale (an access(2)
// of a path that does not exist: a system call strace shows with its
// argument and that costs nothing). A figure that regresses fails here.

const (
	fsyncChildEnv = "YKTD_FSYNC_CHILD"
	fsyncSales    = 8
	// markDir is a path that never exists: the markers are its children.
	markDir = "/nonexistent-yktd-mark"
	// maxSyncsBeforeDisplay is the critical path's budget: one bbolt
	// commit (its data pages, then its meta page), the durable intent.
	maxSyncsBeforeDisplay = 2
)

// mark leaves a marker strace sees.
func mark(what string, i int) { _ = syscall.Access(fmt.Sprintf("%s/%s-%d", markDir, what, i), 0) }

// markingDisplay leaves a "display" marker when the sale's result is shown.
type markingDisplay struct {
	ui.Display
	sale *int
}

func (d markingDisplay) Show(ctx context.Context, m ui.Message) error {
	mark("display", *d.sale)
	return d.Display.Show(ctx, m)
}

func TestSaleFsyncsBeforeDisplay(t *testing.T) {
	if os.Getenv(fsyncChildEnv) == "1" {
		fsyncChild(t)
		return
	}
	if testing.Short() {
		t.Skip("counts fsyncs with strace on the host; under -short (qemu-user) strace would trace the emulator")
	}
	out := filepath.Join(t.TempDir(), "strace.out")
	underStrace(t, fsyncChildEnv+"=1", []string{"-test.run=^TestSaleFsyncsBeforeDisplay$"},
		"-o", out, "-e", "trace=fsync,fdatasync,sync_file_range,msync,syncfs,access,faccessat,faccessat2")
	before, after := countSyncs(t, out)
	for i := 1; i <= fsyncSales; i++ {
		t.Logf("sale %d: %d fsyncs before the display, %d after", i, before[i], after[i])
		if before[i] > maxSyncsBeforeDisplay {
			t.Errorf("sale %d: %d fsyncs between the tap and the display, want ≤ %d", i, before[i], maxSyncsBeforeDisplay)
		}
		if before[i] == 0 {
			t.Errorf("sale %d: no fsync before the display: the intent was not durable before DEBIT", i)
		}
		if before[i]+after[i] < 4 {
			t.Errorf("sale %d: %d fsyncs in all: the completion was not committed before the next tap", i, before[i]+after[i])
		}
	}
}

// underStrace runs this test binary again with env set and the test flags
// testArgs, under strace with straceArgs, and fails tb if it fails.
func underStrace(tb testing.TB, env string, testArgs []string, straceArgs ...string) {
	tb.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		tb.Fatal("this counts and delays fsyncs with strace: install it (Debian package strace; .ci/run does)")
	}
	args := append([]string{"-f", "-qq"}, straceArgs...)
	args = append(args, os.Args[0], "-test.count=1", "-test.v")
	args = append(args, testArgs...)
	cmd := exec.Command(strace, args...)
	cmd.Env = append(os.Environ(), env)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("child under strace: %v\n%s", err, b)
	}
}

// countSyncs reads strace's output: the sync calls of each sale between
// its tap and its display marker, and between the display and its done.
func countSyncs(t *testing.T, path string) (before, after map[int]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, after = map[int]int{}, map[int]int{}
	var phase string
	sale, seen := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, markDir+"/"); i >= 0 {
			var what string
			var n int
			rest := strings.SplitN(line[i+len(markDir)+1:], "\"", 2)[0]
			dash := strings.LastIndexByte(rest, '-')
			if dash < 0 {
				t.Fatalf("bad marker %q", line)
			}
			what = rest[:dash]
			if _, err := fmt.Sscan(rest[dash+1:], &n); err != nil {
				t.Fatalf("bad marker %q", line)
			}
			switch what {
			case "tap", "display":
				phase, sale = what, n
				if what == "tap" {
					seen++
				}
			case "done":
				phase = ""
			}
			continue
		}
		if strings.Contains(line, "resumed>") || !isSync(line) {
			continue
		}
		switch phase {
		case "tap":
			before[sale]++
		case "display":
			after[sale]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != fsyncSales+1 { // and the warm-up sale 0
		t.Fatalf("strace saw %d sales, want %d", seen, fsyncSales)
	}
	return before, after
}

func isSync(line string) bool {
	// "PID  fdatasync(7)" or "PID  fdatasync(7 <unfinished ...>"
	for _, s := range []string{"fsync(", "fdatasync(", "sync_file_range(", "msync(", "syncfs("} {
		if strings.Contains(line, " "+s) || strings.HasPrefix(line, s) {
			return true
		}
	}
	return false
}

// fsyncChild is the traced process: a POS on a real store selling to a
// card fsyncSales times, after one sale to warm the store up.
func fsyncChild(t *testing.T) {
	r := newRig(t, config.POS{Mode: config.ModeFixed, PriceFen: 500})
	r.rules = &protocol.Rules{}
	sale := 0
	p, err := pos.New(pos.Options{
		Store: r.store, SAM: r.sam, Display: markingDisplay{Display: r.ui, sale: &sale}, Keypad: r.ui,
		Now: r.clock.Now, Location: time.UTC, Config: r.cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Startup(); err != nil {
		t.Fatal(err)
	}
	card := demoCard(t, "staff", "", 100_000)
	for i := 0; i <= fsyncSales; i++ {
		sale = i
		c := r.tap(card)
		mark("tap", i)
		res, err := p.HandleCard(r.ctx, c, 0)
		mark("done", i)
		r.rdr.Remove()
		if err != nil || res.Outcome != pos.Paid {
			t.Fatalf("sale %d: %+v, %v", i, res, err)
		}
		r.clock.Advance(time.Minute)
	}
}
