package syncclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

func (l *fakeLedger) heldCode() protocol.Code {
	if l.psamHeld {
		return protocol.CodePSAMBinding
	}
	return 0
}

// RecordLedgerHeld makes memJournal a HoldSink.
func (j *memJournal) RecordLedgerHeld(held bool, _ time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.psamHeld = held
	j.holds++
	return nil
}

func (j *memJournal) hold() (held bool, calls int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.psamHeld, j.holds
}

// TestPSAMHeldByLedger (issue 16): the enrolment sends the PSAM's
// terminal id; a ledger that holds the device says so in its enrolment
// answer, its Acks and its psam-binding refusals of status and rules. The
// client records the hold (the daemon stops money) on a change only, keeps
// uploading, does not back off, and records its end when the ledger serves
// the device again.
func TestPSAMHeldByLedger(t *testing.T) {
	l, srv := newFakeLedger(t)
	l.set(func(l *fakeLedger) { l.psamHeld = true })
	j := &memJournal{}
	j.add(t, 3)
	clk := newStepClock()
	var logs testbuf.Buffer
	tid := []byte{0, 0, 0, 0, 0x0a, 0x01}
	c, err := syncclient.New(syncclient.Options{Ledger: srv.URL, DeviceID: syncDevice, Signer: newSigner(t, syncDevice),
		Kind: protocol.DevicePOS, TerminalID: tid, Journal: j, Status: j, Rules: j, Clock: clk, Interval: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Enrol(context.Background(), "token")
	if err != nil || resp.Held != protocol.CodePSAMBinding {
		t.Fatalf("enrol: %+v %v", resp, err)
	}
	l.set(func(l *fakeLedger) {
		if !bytes.Equal(l.enrolTID, tid) {
			t.Errorf("enrolment sent terminal id %x, want %x", l.enrolTID, tid)
		}
	})
	if held, n := j.hold(); !held || n != 1 || !c.Held() {
		t.Fatalf("after a held enrolment: recorded %v (%d calls), client %v", held, n, c.Held())
	}
	done, stop := runStepped(t, c.Run)
	defer stop()
	if w := clk.round(t, done); w != time.Minute {
		t.Errorf("wait after a held round %v, want the interval (no backoff)", w)
	}
	high, paths := l.held()
	if _, _, acked := j.standing(); high != 3 || acked != 3 || slices.Contains(paths, protocol.PathRules) {
		t.Fatalf("held round: ledger holds %d, acked %d, asked %v (rules are not asked after status said held)", high, acked, paths)
	}
	if held, n := j.hold(); !held || n != 1 {
		t.Errorf("the same hold again was recorded again: %v, %d calls", held, n)
	}
	if n := strings.Count(logs.String(), "HOLDS THIS DEVICE"); n != 1 {
		t.Errorf("%d hold lines for one hold, want 1:\n%s", n, logs.String())
	}

	l.set(func(l *fakeLedger) { l.psamHeld = false })
	clk.release <- time.Now()
	clk.round(t, done)
	if held, n := j.hold(); held || n != 2 || c.Held() {
		t.Fatalf("after the rebind: recorded %v (%d calls), client %v", held, n, c.Held())
	}
}

// TestPSAMHeldRefusal: a psam-binding refusal of a request matches
// ErrDeviceHeld and protocol.ErrPSAMBinding, and a terminal id of the
// wrong size is refused by New.
func TestPSAMHeldRefusal(t *testing.T) {
	l, srv := newFakeLedger(t)
	j := &memJournal{}
	c := enrolled(t, l, srv.URL, j, newStepClock(), nil)
	l.set(func(l *fakeLedger) { l.psamHeld = true })
	_, err := c.PullStatus(context.Background())
	if !errors.Is(err, syncclient.ErrDeviceHeld) || !errors.Is(err, protocol.ErrPSAMBinding) || syncclient.IsFatal(err) {
		t.Fatalf("PullStatus of a held device: %v", err)
	}
	if held, _ := j.hold(); !held {
		t.Fatal("hold not recorded")
	}
	if _, err := syncclient.New(syncclient.Options{Ledger: srv.URL, DeviceID: syncDevice, Signer: newSigner(t, syncDevice),
		TerminalID: []byte{1, 2, 3}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		t.Fatal("a 3-byte terminal id taken")
	}
}
