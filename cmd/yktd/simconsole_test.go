package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/reader/sim"
)

// simCtl is the client of the control interface of the simulator
// running on dir.
func simCtl(t *testing.T, dir string, done chan int) *ctlClient {
	t.Helper()
	return newCtl(t, dir, controlAddr(t, dir, done))
}

// waitOut polls the daemon's stdout until it contains want.
func (r *daemonRun) waitOut(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(r.stdout.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout does not show %q within 60s:\n%s", want, r.stdout)
		}
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("yktd exited with %d before showing %q\nstdout:\n%s\nstderr:\n%s", code, want, r.stdout, r.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSimConsoleRefusesWhatIsNotACard: on the simulator's console a line
// taps a card of the list (its number or its name) and anything else is
// refused with the list shown; nothing is tapped for it.
func TestSimConsoleRefusesWhatIsNotACard(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	r := startRun(t, 2*time.Minute, pr, "run", "--sim", "--auto", "0", "--no-ledger", "--dir", dir)
	ctl := simCtl(t, dir, r.done)
	r.waitOut(t, "cards:")
	for i, line := range []string{"9", "0", "bogus", "1x", "-1"} {
		if _, err := io.WriteString(pw, line+"\n"); err != nil {
			t.Fatal(err)
		}
		r.waitOut(t, "no card "+strconv.Quote(line))
		if n := strings.Count(r.stdout.String(), "1 student, 2 lost, 3 low, 4 staff, 5 expired"); n < i+1 {
			t.Fatalf("the refusal of %q does not show the list:\n%s", line, r.stdout)
		}
	}
	if strings.Contains(r.stdout.String(), "-- tap ") {
		t.Fatalf("a card was tapped for input that names none:\n%s", r.stdout)
	}
	// A card's number and a card's name each tap that card.
	for _, line := range []string{"4", "low"} {
		if _, err := io.WriteString(pw, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	recs := ctl.awaitTaps(2, time.Minute)
	if recs[0].Card != sim.DemoStaffNo || recs[1].Card != sim.DemoLowBalanceNo {
		t.Errorf("taps %+v, want the staff card then the low-balance card", recs)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
}

// TestSimTemporaryDirRemoved: without --dir the simulator works in a
// temporary folder and removes it at the end.
func TestSimTemporaryDirRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--auto", "0", "--no-ledger")
	r.waitOut(t, "cards:")
	m := regexp.MustCompile(`store (\S+)/yktd\.db`).FindStringSubmatch(r.stdout.String())
	if m == nil || filepath.Dir(m[1]) != tmp {
		t.Fatalf("the store is not in a folder of $TMPDIR %s:\n%s", tmp, r.stdout)
	}
	if !strings.Contains(r.stdout.String(), "removed at the end") {
		t.Errorf("stdout does not say the folder is temporary:\n%s", r.stdout)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left in $TMPDIR after the run: %v", left)
	}
}

// TestSimControlPausesAutoTapper: while the control interface drives the
// cards (tap, remove, tear), the auto-tapper taps nothing; it resumes a
// while after the last such request.
func TestSimControlPausesAutoTapper(t *testing.T) {
	saved := simControlPause
	simControlPause = 2 * time.Second
	t.Cleanup(func() { simControlPause = saved })
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--auto", "100ms", "--no-ledger", "--dir", dir)
	ctl := simCtl(t, dir, r.done)
	r.waitOut(t, "-- tap ") // the auto-tapper runs

	seen := ctl.awaitTaps(1, time.Minute)
	ctl.post("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "staff"})
	var staff bool
	deadline := time.Now().Add(time.Minute)
	for after := seen[len(seen)-1].N; !staff && time.Now().Before(deadline); {
		recs, err := ctl.taps(after, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			after = rec.N
			staff = staff || rec.Card == sim.DemoStaffNo
		}
	}
	if !staff {
		t.Fatal("the control interface's tap was not served")
	}
	ctl.post("/sim/readers/sim:canteen-1/remove", nil)
	last := time.Now() // after the last control request

	r.waitOut(t, "-- auto-tapper paused")
	r.waitOut(t, "-- auto-tapper resumes")
	if resumed := time.Since(last); resumed < simControlPause {
		t.Errorf("the auto-tapper resumed %v after the last control request, before the pause of %v", resumed, simControlPause)
	}
	out := r.stdout.String()
	paused := strings.LastIndex(out, "-- auto-tapper paused")
	resumed := strings.LastIndex(out, "-- auto-tapper resumes")
	if between := out[paused:resumed]; strings.Contains(between, "-- tap ") {
		t.Errorf("the auto-tapper tapped while paused:\n%s", between)
	}
	// Then it taps again.
	for !strings.Contains(r.stdout.String()[resumed:], "-- tap ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(r.stdout.String()[resumed:], "-- tap ") {
		t.Errorf("the auto-tapper did not tap again after resuming:\n%s", r.stdout.String()[resumed:])
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
}

// TestSimLogAndDisplaySeparate: the customer display is on stdout and the
// log on stderr, or in the file --log names.
func TestSimLogAndDisplaySeparate(t *testing.T) {
	logLine := regexp.MustCompile(`(?m)^time=\S+ level=`)
	for _, withFile := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"run", "--sim", "--auto", "100ms", "--no-ledger", "--dir", dir}
		logFile := filepath.Join(t.TempDir(), "sim.log")
		if withFile {
			args = append(args, "--log", logFile)
		}
		r := startRun(t, 2*time.Minute, nil, args...)
		r.waitOut(t, "交易成功")
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
		}
		if out := r.stdout.String(); logLine.MatchString(out) || !strings.Contains(out, "Approved") {
			t.Errorf("--log %v: stdout is not the display alone:\n%s", withFile, out)
		}
		logs := r.stderr.String()
		if withFile {
			if logLine.MatchString(logs) {
				t.Errorf("--log FILE: the log is on stderr too:\n%s", logs)
			}
			b, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			logs = string(b)
		}
		if !strings.Contains(logs, `msg="yktd: running"`) || strings.Contains(logs, "交易成功") {
			t.Errorf("--log %v: the log is not where it should be, or has the display in it:\n%s", withFile, logs)
		}
	}
}

// The console's lines are the simulator's card choices: a number of the
// list, a name (any case), or nothing for the next card.
func TestSimChoice(t *testing.T) {
	for line, want := range map[string]int{"": -1, "  ": -1, "1": 0, "3": 2, " 5 ": 4, "staff": 3, "LOST": 1} {
		if got, ok := simChoice(line); !ok || got != want {
			t.Errorf("simChoice(%q) = %d, %v; want %d", line, got, ok, want)
		}
	}
	for _, line := range []string{"0", "6", "9", "-1", "01", "1x", "bogus", "stafff"} {
		if got, ok := simChoice(line); ok {
			t.Errorf("simChoice(%q) = %d, a card", line, got)
		}
	}
}

// consoleInput: Ctrl-C ends the input and calls interrupt; chooser lines
// and keypad bytes go their separate ways.
func TestConsoleInput(t *testing.T) {
	pr, pw := io.Pipe()
	stopped := make(chan struct{})
	var echo lockedBuffer
	in := newConsoleInput(pr, func() { close(stopped) }, &echo, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _, _ = io.WriteString(pw, "stx\baff\r\n\r") }()
	for _, want := range []string{"staff", ""} {
		if l, err := in.NextLine(ctx); err != nil || l != want {
			t.Fatalf("NextLine = %q, %v; want %q", l, err, want)
		}
	}
	done := in.entry()
	go func() { _, _ = io.WriteString(pw, "1234\n") }()
	b := make([]byte, 5)
	if _, err := io.ReadFull(in, b); err != nil || string(b) != "1234\n" {
		t.Fatalf("keypad read %q, %v", b, err)
	}
	done()
	go func() { _, _ = io.WriteString(pw, "2\x03after") }()
	if l, err := in.NextLine(ctx); err == nil {
		t.Fatalf("NextLine after Ctrl-C = %q, want the end of input", l)
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("Ctrl-C did not interrupt")
	}
	if got := echo.String(); got != "stx\b \baff\n\n2" {
		t.Errorf("echo %q", got)
	}
}
