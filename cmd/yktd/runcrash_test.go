package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

const runCrashEnv = "YKTD_RUN_CRASH_DIR"

// TestRunCrashHelper is the child of TestRunCrashKill: `yktd run --sim` on
// the directory the environment names, as the real binary runs it (its
// signals, its stdin), until it is killed or stopped with SIGTERM.
func TestRunCrashHelper(t *testing.T) {
	dir := os.Getenv(runCrashEnv)
	if dir == "" {
		t.Skip("helper process for TestRunCrashKill")
	}
	os.Exit(run([]string{"run", "--sim", "--no-ledger", "--auto", "0", "--dir", dir, "--control", "127.0.0.1:0"},
		os.Stdout, os.Stderr))
}

// crashCardBalance is what every card of the crash test starts with
// (20 000.00 yuan: a few hundred meals).
const crashCardBalance = 2_000_000

// crashCards issues the five cards of the simulator into dir/cards, every
// one able to buy: the lost and expired demo cards are re-issued with card
// numbers off the status list and a current validity, so that the repeat
// guard (3s per card) still lets five sales through every three seconds.
func crashCards(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "cards"), 0o700); err != nil {
		t.Fatal(err)
	}
	numbers := map[string]string{}
	for i, d := range sim.Catalogue() {
		if d.Listed != "" || d.Profile.Expiry < "2030" {
			d.Profile.CardNo = fmt.Sprintf("100120260901000001%02d", i)
			d.Profile.Start, d.Profile.Expiry = "20260901", "20300831"
		}
		d.Balance = crashCardBalance
		c, err := d.Issue()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Save(filepath.Join(dir, "cards", d.Name+".json")); err != nil {
			t.Fatal(err)
		}
		numbers[d.Name] = d.Profile.CardNo
	}
	return numbers
}

// crashDaemon is one run of the child process.
type crashDaemon struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan int // its exit code, once
	ctl   *ctlClient
}

// startCrashDaemon starts `yktd run --sim` on dir in a child process and
// waits for its control interface. Its stdin stays open (a console nobody
// types on); its output goes to dir/../daemon.log.
func startCrashDaemon(t *testing.T, dir string, logf *os.File) *crashDaemon {
	t.Helper()
	return startCrashDaemonOf(t, dir, logf, runCrashEnv, "^TestRunCrashHelper$")
}

// startCrashDaemonOf starts the helper test named by pattern in a child
// process with env set to dir, and waits for its control interface.
func startCrashDaemonOf(t *testing.T, dir string, logf *os.File, env, pattern string) *crashDaemon {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, "control.addr"))
	args := []string{os.Args[0], "-test.run=" + pattern}
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), env+"="+dir)
		cmd.Stdout, cmd.Stderr = logf, logf
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		err = cmd.Start()
		if err != nil {
			// Under qemu-user without binfmt_misc the emulated binary cannot
			// exec itself: run it through the host's qemu, as go test -exec did.
			arch := runtime.GOARCH
			if arch == "arm64" {
				arch = "aarch64"
			}
			qemu, lerr := exec.LookPath("qemu-" + arch + "-static")
			if attempt == 0 && errors.Is(err, syscall.ENOEXEC) && lerr == nil {
				args = append([]string{qemu}, args...)
				continue
			}
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-execute the test binary here (qemu-user without binfmt_misc and no qemu on PATH): %v", err)
			}
			t.Fatal(err)
		}
		d := &crashDaemon{cmd: cmd, stdin: stdin, done: make(chan int, 1)}
		go func() {
			_ = cmd.Wait()
			d.done <- cmd.ProcessState.ExitCode()
		}()
		d.ctl = newCtl(t, dir, controlAddr(t, dir, d.done))
		return d
	}
}

// kill ends the child with SIGKILL and waits for it.
func (d *crashDaemon) kill(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the killed daemon did not end")
	}
	_ = d.stdin.Close()
}

// term stops the child with SIGTERM and returns its exit code.
func (d *crashDaemon) term(t *testing.T) int {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	defer d.stdin.Close()
	select {
	case code := <-d.done:
		return code
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Fatal("the daemon did not stop within 30s of SIGTERM")
	}
	return -1
}

// TestRunCrashKill drives `yktd run --sim` in a real process through its
// control interface, tearing some sales on the card and killing the daemon
// with SIGKILL at random moments of a tap, restarting it on the same
// directory each time. At the end every card's balance plus its completed
// purchases is its starting balance, no DEBIT was booked twice, no intent is
// left, and the journal verifies without a gap.
func TestRunCrashKill(t *testing.T) {
	// A kill about every killEvery taps that may buy (from half to 1.5
	// times that): with the refusals between, about one in 25 taps.
	minTaps, minSales, killEvery, limit := 500, 100, 6, 150*time.Second
	if testing.Short() {
		minTaps, minSales, killEvery, limit = 40, 8, 2, 120*time.Second
	}
	nextGap := func(rng *rand.Rand) int { return killEvery/2 + rng.IntN(killEvery+1) }
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "sim")
	numbers := crashCards(t, dir)
	logf, err := os.Create(filepath.Join(tmp, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("daemon log (end):\n%s", b)
		}
	}()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	const rdr = "/sim/readers/sim:canteen-1"
	names := simCards

	d := startCrashDaemon(t, dir, logf)
	defer func() {
		if d != nil {
			d.kill(t)
		}
	}()
	var (
		seen       uint64 // last tap record of this daemon run
		taps       int
		paid       int
		kills      int
		faults     int
		outcomes   = map[string]int{}
		ready      = map[string]time.Time{} // when a card may buy again, as far as the test knows
		nextKill   = nextGap(rng)
		buyable    int // taps of a card that may buy
		start      = time.Now()
		deadline   = start.Add(limit)
		restartDur time.Duration
	)
	// awaitTap waits for the record of the tap just posted.
	awaitTap := func(name string) terminal.TapRecord {
		t.Helper()
		for time.Now().Before(deadline) {
			recs, err := d.ctl.taps(seen, 10*time.Second)
			if err != nil {
				t.Fatalf("tap %d (%s): %v", taps, name, err)
			}
			if len(recs) > 0 {
				seen = recs[len(recs)-1].N
				if len(recs) > 1 || (recs[0].Card != numbers[name] && recs[0].Card != "") {
					t.Fatalf("tap %d of %s: records %+v", taps, name, recs)
				}
				return recs[0]
			}
		}
		t.Fatalf("tap %d (%s): no record before the deadline", taps, name)
		return terminal.TapRecord{}
	}
	// Taps go to the card that may buy again first: as soon as the demo's
	// 3s repeat guard lets it, or, paced, before (the guard refuses it).
	// So the five cards buy about every 3s each, with refusals between.
	pace := time.Now()
	for taps < minTaps || paid < minSales {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d taps, %d sales (want %d, %d); outcomes %v", limit, taps, paid, minTaps, minSales, outcomes)
		}
		name := names[0]
		for _, n := range names {
			if ready[n].Before(ready[name]) {
				name = n
			}
		}
		if ready[name].After(pace) {
			time.Sleep(time.Until(pace))
		} else {
			time.Sleep(time.Until(ready[name]))
		}
		pace = time.Now().Add(150 * time.Millisecond)
		eligible := !ready[name].After(time.Now())
		if eligible && rng.IntN(12) == 0 {
			// Tear the sale on the card: before DEBIT (nothing debited) or
			// after it (debited, the answer lost).
			kind := []string{"tear-after", "tear-before"}[rng.IntN(2)]
			d.ctl.post("/sim/cards/"+name+"/faults", map[string]any{"kind": kind, "ins": "debit", "nth": 1})
			faults++
		}
		d.ctl.post(rdr+"/tap", map[string]string{"card": name})
		taps++
		if eligible {
			buyable++
		}
		if buyable >= nextKill && eligible {
			// Kill the daemon 0-30 ms into the tap: before, during or after
			// the sale's commits and the card's EEPROM writes.
			time.Sleep(time.Duration(rng.IntN(30_001)) * time.Microsecond)
			d.kill(t)
			kills++
			nextKill = buyable + nextGap(rng)
			ready[name] = time.Now().Add(3 * time.Second) // it may have bought
			t0 := time.Now()
			d, seen = startCrashDaemon(t, dir, logf), 0
			restartDur += time.Since(t0)
			continue
		}
		rec := awaitTap(name)
		outcomes[rec.Outcome+"/"+rec.Code]++
		if rec.Recovered {
			outcomes["recovered"]++
		}
		switch {
		case rec.Outcome == "paid":
			paid++
			ready[name] = time.Now().Add(3 * time.Second)
		case rec.Code == "repeat_tap" && eligible:
			// It bought in a tap the test did not see (the daemon was
			// killed after the sale): up to 3s more.
			ready[name] = time.Now().Add(3 * time.Second)
		}
		d.ctl.post(rdr+"/remove", nil)
	}
	// Every card once more, faults cleared, so that what a kill or a tear
	// left uncertain is resolved from the card; twice, in case one card
	// had two.
	for round := 0; round < 2; round++ {
		for _, name := range names {
			if err := d.ctl.tryDelete("/sim/cards/" + name + "/faults"); err != nil {
				t.Fatal(err)
			}
			d.ctl.post(rdr+"/tap", map[string]string{"card": name})
			rec := awaitTap(name)
			outcomes[rec.Outcome+"/"+rec.Code]++
			if rec.Outcome == "paid" {
				paid++
			}
			d.ctl.post(rdr+"/remove", nil)
		}
	}
	code := d.term(t)
	d = nil
	if code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	t.Logf("%d taps (%d could buy), %d kills (restarts took %v), %d faults armed, %d sales reported, in %v; outcomes %v",
		taps, buyable, kills, restartDur.Round(time.Millisecond), faults, paid, time.Since(start).Round(time.Millisecond), outcomes)
	if kills < buyable/killEvery/3 {
		t.Errorf("the daemon was killed %d times in %d taps that could buy, want about one in %d", kills, buyable, killEvery)
	}
	checkCrashInvariants(t, dir, numbers, minSales)
}

// checkCrashInvariants opens what the daemon left and checks the money.
func checkCrashInvariants(t *testing.T, dir string, numbers map[string]string, minSales int) {
	t.Helper()
	s, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Verify()
	if err != nil {
		t.Fatalf("journal does not verify: %v", err)
	}
	if res.First != 1 || res.Count != res.Head.Seq {
		t.Fatalf("journal has a gap: %d records from %d to %d", res.Count, res.First, res.Head.Seq)
	}
	if err := s.CheckConsistency(); err != nil {
		t.Fatal(err)
	}
	ins, err := s.Intents()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		t.Errorf("intent %d of card %s left %v", in.ID, in.CardNo, in.State)
	}
	es, err := s.Records(0, int(res.Head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	intents := map[uint64]protocol.Record{}
	resolved := map[uint64]protocol.Kind{}
	sum, n := map[string]int64{}, map[string]int{}
	kinds := map[protocol.Kind]int{}
	for _, e := range es {
		r := e.Record
		kinds[r.Kind]++
		switch r.Kind {
		case protocol.KindPurchaseIntent:
			intents[r.Seq] = r
		case protocol.KindPurchaseCompleted, protocol.KindPurchaseVoided:
			in, ok := intents[r.IntentID]
			if !ok {
				t.Errorf("record %d resolves intent %d, which is not an earlier intent", r.Seq, r.IntentID)
			}
			if prev, dup := resolved[r.IntentID]; dup {
				t.Errorf("intent %d resolved twice: %v then %v (record %d)", r.IntentID, prev, r.Kind, r.Seq)
			}
			resolved[r.IntentID] = r.Kind
			if r.Kind == protocol.KindPurchaseCompleted {
				if r.CardNo != in.CardNo || r.Amount != in.Amount {
					t.Errorf("completion %d (%s, %d) does not match its intent %d (%s, %d)", r.Seq, r.CardNo, r.Amount, in.Seq, in.CardNo, in.Amount)
				}
				sum[r.CardNo] += r.Amount
				n[r.CardNo]++
			}
		case protocol.KindPurchaseReversed:
			t.Errorf("record %d reverses a sale; nobody cancelled one", r.Seq)
		}
	}
	for seq := range intents {
		if _, ok := resolved[seq]; !ok {
			t.Errorf("intent %d has no outcome in the journal", seq)
		}
	}
	var sales int
	for name, no := range numbers {
		st := cardStatus(t, dir, name)
		if st.CardNo != no {
			t.Fatalf("card file %s holds card %s, want %s", name, st.CardNo, no)
		}
		if got := int64(st.Balance) + sum[no]; got != crashCardBalance {
			t.Errorf("card %s: balance %d + completed %d = %d, want the starting %d", name, st.Balance, sum[no], got, crashCardBalance)
		}
		if int(st.OfflineCounter) != n[no] {
			t.Errorf("card %s: offline counter %d, but %d completed purchases journaled", name, st.OfflineCounter, n[no])
		}
		sales += n[no]
	}
	t.Logf("journal: %d records, %d sales completed; kinds %v", res.Count, sales, kinds)
	if sales < minSales {
		t.Errorf("%d sales completed, want at least %d", sales, minSales)
	}
}
