package syncclient_test

import (
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/protocol"
)

// lines returns the log lines of level (text handler) containing msg.
func lines(logs, level, msg string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "level="+level) && strings.Contains(l, msg) {
			out = append(out, l)
		}
	}
	return out
}

// TestSyncQuietAtInfo: the technician's log at INFO does not repeat every
// round's upload, nor every failed round of an outage; it says when the
// outage began (WARN) and ended (INFO), and what was applied.
func TestSyncQuietAtInfo(t *testing.T) {
	l, srv := newFakeLedger(t)
	j := &memJournal{}
	clk := newStepClock()
	var logs testbuf.Buffer
	c := enrolled(t, l, srv.URL, j, clk, &logs)
	snap := protocol.StatusSnapshot{Version: 1}
	d := protocol.StatusDigest(nil)
	snap.Digest = d[:]
	l.set(func(l *fakeLedger) { l.status = &snap })
	done, stop := runStepped(t, c.Run)
	defer stop()
	// Each change is made while Run waits between rounds, so that a slow
	// machine (qemu-user) cannot let a round see the next sale early.
	clk.round(t, done)
	for range 3 { // a sale a round
		j.add(t, 2)
		clk.release <- time.Now()
		clk.round(t, done)
	}
	l.set(func(l *fakeLedger) { l.down = true })
	for range 3 {
		clk.release <- time.Now()
		clk.round(t, done)
	}
	l.set(func(l *fakeLedger) { l.down = false })
	clk.release <- time.Now()
	clk.round(t, done)
	if _, _, acked := j.standing(); acked != 6 {
		t.Fatalf("acked through %d, want 6", acked)
	}
	out := logs.String()
	if got := lines(out, "INFO", "journal uploaded"); len(got) != 0 {
		t.Errorf("every round's upload logged at INFO:\n%s", strings.Join(got, "\n"))
	}
	if got := lines(out, "DEBUG", "journal uploaded"); len(got) != 3 {
		t.Errorf("%d debug lines of the uploads, want 3:\n%s", len(got), out)
	}
	if got := lines(out, "WARN", "sync round failed"); len(got) != 1 {
		t.Errorf("%d warnings for one outage of 3 failed rounds, want 1:\n%s", len(got), out)
	}
	if got := lines(out, "INFO", "ledger reachable again"); len(got) != 1 || !strings.Contains(got[0], "failed_rounds=3") {
		t.Errorf("the end of the outage: %q", got)
	}
	if got := lines(out, "INFO", "status list replaced"); len(got) != 1 || !strings.Contains(got[0], "version=1") {
		t.Errorf("the status list applied: %q", got)
	}
}
