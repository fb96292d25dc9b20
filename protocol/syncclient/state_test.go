package syncclient_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/protocol"
)

// runStepped starts c.Run under clk and returns its result channel and a
// cancel that waits for Run to end with the context's error.
func runStepped(t *testing.T, run func(context.Context) error) (<-chan error, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stop := func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want the context's end", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not end")
		}
	}
	return done, stop
}

// TestRunRecordsContact: each round that reached the ledger records the
// contact in the store (the daemon's offline limit counts from it).
func TestRunRecordsContact(t *testing.T) {
	l, srv := newFakeLedger(t)
	j := &memJournal{}
	j.add(t, 3)
	clk := newStepClock()
	c := enrolled(t, l, srv.URL, j, clk, nil)
	done, stop := runStepped(t, c.Run)
	defer stop()
	before := time.Now()
	clk.round(t, done)
	contact, revoked, acked := j.standing()
	if contact.IsZero() || contact.Before(before.Add(-time.Second)) || revoked || acked != 3 {
		t.Fatalf("after a round: contact %v, revoked %v, acked %d", contact, revoked, acked)
	}
}

// TestRevokedDeviceKeepsUploading: a ledger that revoked the device
// answers revoked to status and rules but still takes its batches. The
// client records the revocation (the daemon stops taking money), does not
// end Run, and uploads what the journal gains each round, until the
// ledger serves the device again.
func TestRevokedDeviceKeepsUploading(t *testing.T) {
	l, srv := newFakeLedger(t)
	j := &memJournal{}
	j.add(t, 3)
	clk := newStepClock()
	var logs testbuf.Buffer
	c := enrolled(t, l, srv.URL, j, clk, &logs)
	l.set(func(l *fakeLedger) { l.revoked = true })
	done, stop := runStepped(t, c.Run)
	defer stop()

	if w := clk.round(t, done); w != time.Minute {
		t.Errorf("wait after a revoked round %v, want the interval", w)
	}
	high, _ := l.held()
	if _, revoked, acked := j.standing(); !revoked || high != 3 || acked != 3 {
		t.Fatalf("after the revoked round: revoked recorded %v, ledger holds %d, acked %d", revoked, high, acked)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(strings.ToLower(logs.String()), "revoked") {
		t.Errorf("the revocation is not logged as an error:\n%s", logs.String())
	}

	j.add(t, 2) // the daemon's device-revoked record, a refusal
	clk.release <- time.Now()
	clk.round(t, done)
	if high, paths := l.held(); high != 5 || !slices.Contains(paths, protocol.PathBatches) {
		t.Fatalf("second revoked round: ledger holds %d (asked %v), want 5", high, paths)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one revocation, want 1:\n%s", n, logs.String())
	}

	l.set(func(l *fakeLedger) { l.revoked = false })
	clk.release <- time.Now()
	clk.round(t, done)
	if _, revoked, _ := j.standing(); revoked {
		t.Fatal("the ledger serves the device again but the revocation stays recorded")
	}
}

// TestRevokedByOldLedger: a ledger that refuses a revoked device's
// batches too (one older than the collection of revoked devices'
// journals). The client records the revocation, stops uploading and says
// so, and Run goes on (it still learns if the ledger serves the device
// again).
func TestRevokedByOldLedger(t *testing.T) {
	l, srv := newFakeLedger(t)
	j := &memJournal{}
	j.add(t, 3)
	clk := newStepClock()
	var logs testbuf.Buffer
	c := enrolled(t, l, srv.URL, j, clk, &logs)
	l.set(func(l *fakeLedger) { l.revoked, l.revokedBatches = true, true })
	done, stop := runStepped(t, c.Run)
	defer stop()
	clk.round(t, done)
	if _, revoked, acked := j.standing(); !revoked || acked != 0 {
		t.Fatalf("revoked %v, acked %d", revoked, acked)
	}
	if h := c.Halted(); !errors.Is(h, protocol.ErrRevoked) {
		t.Fatalf("Halted = %v, want the revocation", h)
	}
	if !strings.Contains(logs.String(), "journal export") {
		t.Errorf("the log does not say how to collect the journal:\n%s", logs.String())
	}
	if err := c.Flush(context.Background()); !errors.Is(err, protocol.ErrRevoked) {
		t.Errorf("Flush after the upload halted: %v", err)
	}
	l.held()
	clk.release <- time.Now()
	clk.round(t, done)
	if _, paths := l.held(); slices.Contains(paths, protocol.PathBatches) {
		t.Errorf("uploading after the ledger refused the revoked device's batches: %v", paths)
	}
}
