package pn532_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/ptytest"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pn532"
	"github.com/openykt/yktd/reader/pn532/pn532sim"
	"github.com/openykt/yktd/reader/readertest"
	"github.com/openykt/yktd/reader/readertest/drivertest"
)

// waitLimit bounds every wait of these tests; it only fails a test that
// hangs.
const waitLimit = 10 * time.Second

// rig is a simulated module on a pseudo-terminal and a pn532.Reader
// running on its slave through go.bug.st/serial.
type rig struct {
	t      testing.TB
	pty    *ptytest.PTY
	mod    *pn532sim.Module
	r      *pn532.Reader
	events chan reader.Event
	logs   *testbuf.Buffer
	timers *testTimers
}

// Protocol timeouts of the tests: distinct, so that a test fires the one
// it means; they only expire when a test fires them.
const (
	ackTimeout      = time.Hour + 1
	responseTimeout = time.Hour + 2
	exchangeTimeout = time.Hour + 3
)

// fastOptions poll quickly, log to logs and use test timers.
func fastOptions(logs *testbuf.Buffer) (pn532.Options, *testTimers) {
	tt := &testTimers{pending: map[*testTimer]bool{}}
	return pn532.Options{
		PollInterval: 5 * time.Millisecond,
		Timeouts:     pn532.Timeouts{ACK: ackTimeout, Response: responseTimeout, Exchange: exchangeTimeout},
		Log:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NewTimer:     tt.NewTimer,
	}, tt
}

// testTimers stand in for the driver's protocol timers: they fire only
// when the test calls fire.
type testTimers struct {
	mu      sync.Mutex
	pending map[*testTimer]bool
	changed chan struct{}
}

type testTimer struct {
	d time.Duration
	c chan time.Time
}

// NewTimer is the Options.NewTimer of the tests.
func (tt *testTimers) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	tm := &testTimer{d: d, c: make(chan time.Time, 1)}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.pending[tm] = true
	if tt.changed != nil {
		close(tt.changed)
		tt.changed = nil
	}
	return tm.c, func() bool {
		tt.mu.Lock()
		defer tt.mu.Unlock()
		was := tt.pending[tm]
		delete(tt.pending, tm)
		return was
	}
}

// fire waits until a timer of duration d is pending and fires it.
func (tt *testTimers) fire(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		tt.mu.Lock()
		for tm := range tt.pending {
			if tm.d == d {
				delete(tt.pending, tm)
				tt.mu.Unlock()
				tm.c <- time.Now()
				return
			}
		}
		if tt.changed == nil {
			tt.changed = make(chan struct{})
		}
		ch := tt.changed
		tt.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %v timer started within %v", d, waitLimit)
		}
	}
}

func newPTYModule(t testing.TB) (*ptytest.PTY, *pn532sim.Module) {
	t.Helper()
	p, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	mod := pn532sim.New(p.Master)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mod.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return p, mod
}

func newRig(t testing.TB) *rig {
	t.Helper()
	p, mod := newPTYModule(t)
	logs := &testbuf.Buffer{}
	o, timers := fastOptions(logs)
	rg := &rig{t: t, pty: p, mod: mod, r: pn532.New(p.SlavePath, o), events: make(chan reader.Event, 16), logs: logs, timers: timers}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- rg.r.Run(ctx, rg.events) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(waitLimit):
			t.Error("Run did not stop after cancel")
		}
		if t.Failed() {
			t.Logf("driver log:\n%s", logs.String())
		}
	})
	return rg
}

func (rg *rig) next(want reader.EventKind) reader.Event {
	rg.t.Helper()
	return nextEvent(rg.t, rg.events, want)
}

func nextEvent(t testing.TB, events <-chan reader.Event, want reader.EventKind) reader.Event {
	t.Helper()
	return readertest.NextEvent(t, events, want, waitLimit)
}

// echoCard is a test card: 00 CA answers Le bytes (0 meaning 256) of 0xA5
// with 9000; everything else as drivertest.Echo.
type echoCard struct{}

func (echoCard) ATR() []byte { return drivertest.EchoATR() }
func (echoCard) Reset()      {}
func (echoCard) UID() []byte { return []byte{0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6} }
func (echoCard) Respond(cmd []byte) ([]byte, error) {
	if len(cmd) == 5 && cmd[1] == 0xCA {
		n := int(cmd[4])
		if n == 0 {
			n = 256
		}
		return append(bytes.Repeat([]byte{0xA5}, n), 0x90, 0x00), nil
	}
	return drivertest.Echo(cmd)
}

// mifareCard stands in for a MIFARE Classic 1K: SAK 08, no ISO 14443-4.
type mifareCard struct{}

func (mifareCard) ATR() []byte { return nil }
func (mifareCard) Reset()      {}
func (mifareCard) UID() []byte { return []byte{0xDE, 0xAD, 0xBE, 0xEF} }
func (mifareCard) SAK() byte   { return 0x08 }
func (mifareCard) Respond([]byte) ([]byte, error) {
	return nil, errors.New("mifareCard: no APDUs")
}
