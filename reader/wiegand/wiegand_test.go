package wiegand_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/wiegand"
	"github.com/openykt/yktd/reader/wiegand/wiegandtest"
)

// deadline bounds every wait of these tests; only a hung test reaches it.
const deadline = 10 * time.Second

// timer is one bit timeout the Reader armed.
type timer struct {
	c chan time.Time
	d time.Duration
}

// rig runs a Reader on fake pins with a fake bit timeout: the test clocks
// bits in and ends a frame by firing the last timer armed.
type rig struct {
	t      *testing.T
	d0, d1 *wiegandtest.Pin
	r      *wiegand.Reader
	events chan reader.Event
	timers chan timer
	log    *testbuf.Buffer
	cancel context.CancelFunc
	done   chan error
	last   timer
}

func newRig(t *testing.T, opts wiegand.Options) *rig {
	t.Helper()
	g := &rig{
		t:      t,
		d0:     wiegandtest.NewPin("GPIO17", 17),
		d1:     wiegandtest.NewPin("GPIO27", 27),
		events: make(chan reader.Event, 8),
		timers: make(chan timer, 256),
		log:    &testbuf.Buffer{},
		done:   make(chan error, 1),
	}
	opts.After = func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		g.timers <- timer{c, d}
		return c
	}
	opts.Log = slog.New(slog.NewTextHandler(g.log, nil))
	r, err := wiegand.New(g.d0, g.d1, opts)
	if err != nil {
		t.Fatal(err)
	}
	g.r = r
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() { g.done <- r.Run(ctx, g.events) }()
	t.Cleanup(g.stop)
	return g
}

// stop cancels Run and checks that it returned nil and left the pins
// without edge detection.
func (g *rig) stop() {
	g.t.Helper()
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			g.t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(deadline):
		g.t.Fatal("Run did not return after cancel")
	}
	if g.d0.Edge() != gpio.NoEdge || g.d1.Edge() != gpio.NoEdge {
		g.t.Error("edge detection still on after Run returned")
	}
}

// send clocks bits in, one pulse on D0 or D1 each, waiting until the Reader
// took each bit (it arms the bit timeout once per bit).
func (g *rig) send(bits []bool) {
	g.t.Helper()
	for i, b := range bits {
		pin := g.d0
		if b {
			pin = g.d1
		}
		if !pin.Pulse(deadline) {
			g.t.Fatalf("bit %d: nobody waits on %s", i, pin.Name())
		}
		select {
		case g.last = <-g.timers:
		case <-time.After(deadline):
			g.t.Fatalf("bit %d: Reader armed no timeout", i)
		}
	}
}

// end fires the bit timeout armed after the last bit: the frame is over.
func (g *rig) end() {
	g.last.c <- time.Now()
}

func (g *rig) next() reader.Event {
	g.t.Helper()
	select {
	case e := <-g.events:
		return e
	case <-time.After(deadline):
		g.t.Fatal("no event")
		return reader.Event{}
	}
}

func encode(t *testing.T, f wiegand.Format, facility, card uint64) []bool {
	t.Helper()
	bits, err := wiegand.Encode(f, facility, card)
	if err != nil {
		t.Fatal(err)
	}
	return bits
}

func TestReaderFrames(t *testing.T) {
	g := newRig(t, wiegand.Options{Name: "gate-in"})
	g.send(encode(t, wiegand.H10301, 123, 45678))
	g.end()
	e := g.next()
	if e.Kind != reader.NumberCredential || e.Tech != reader.TechWiegand || e.Reader != "gate-in" {
		t.Errorf("event %v", e)
	}
	if e.Bits != 26 || e.Number != 123<<16|45678 {
		t.Errorf("26-bit: bits %d number %d", e.Bits, e.Number)
	}
	if g.last.d != wiegand.DefaultBitTimeout {
		t.Errorf("bit timeout armed %s, want %s", g.last.d, wiegand.DefaultBitTimeout)
	}

	g.send(encode(t, wiegand.H10306, 0x1234, 0xABCD))
	g.end()
	if e := g.next(); e.Bits != 34 || e.Number != 0x1234ABCD {
		t.Errorf("34-bit: bits %d number %#x", e.Bits, e.Number)
	}
	if s := g.r.Stats(); s.Delivered != 2 || s.BadParity != 0 || s.BadLength != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestReaderDropsBadFrames(t *testing.T) {
	flip := func(bits []bool, i int) []bool {
		out := append([]bool(nil), bits...)
		out[i] = !out[i]
		return out
	}
	good26 := encode(t, wiegand.H10301, 7, 1001)
	good34 := encode(t, wiegand.H10306, 300, 40000)
	for _, tc := range []struct {
		name   string
		bits   []bool
		parity bool
	}{
		{"26 even parity", flip(good26, 0), true},
		{"26 odd parity", flip(good26, 25), true},
		{"26 data bit", flip(good26, 13), true},
		{"34 even parity", flip(good34, 0), true},
		{"34 data bit", flip(good34, 30), true},
		{"cut short", good26[:20], false},
		{"one bit short of 26", good26[:25], false},
		{"longer than any format", append(append([]bool(nil), good34...), good34...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, wiegand.Options{})
			g.send(tc.bits)
			g.end()
			// The next event must be the good frame after it: the bad one
			// was not delivered.
			g.send(good26)
			g.end()
			if e := g.next(); e.Number != 7<<16|1001 {
				t.Fatalf("first event %v number %d, want the good frame", e, e.Number)
			}
			s := g.r.Stats()
			want := wiegand.Stats{Delivered: 1, BadLength: 1}
			if tc.parity {
				want = wiegand.Stats{Delivered: 1, BadParity: 1}
			}
			if s != want {
				t.Errorf("stats %+v, want %+v", s, want)
			}
			if !strings.Contains(g.log.String(), "frame dropped") {
				t.Errorf("no log line for the dropped frame: %q", g.log.String())
			}
		})
	}
}

func TestReaderBackToBack(t *testing.T) {
	g := newRig(t, wiegand.Options{BitTimeout: 5 * time.Millisecond})
	g.send(encode(t, wiegand.H10301, 1, 2))
	g.end()
	g.send(encode(t, wiegand.H10301, 3, 4))
	g.end()
	if e := g.next(); e.Number != 1<<16|2 {
		t.Errorf("first frame number %d", e.Number)
	}
	if e := g.next(); e.Number != 3<<16|4 {
		t.Errorf("second frame number %d", e.Number)
	}
	if g.last.d != 5*time.Millisecond {
		t.Errorf("bit timeout armed %s, want 5ms", g.last.d)
	}
}

func TestReaderCustomFormat(t *testing.T) {
	site := wiegand.Format{Name: "site37", Bits: 37, EvenBits: 18, OddBits: 18, FacilityBits: 13}
	g := newRig(t, wiegand.Options{Formats: []wiegand.Format{site}})
	g.send(encode(t, site, 4321, 987654))
	g.end()
	e := g.next()
	if e.Bits != 37 || e.Number != 4321<<22|987654 {
		t.Errorf("bits %d number %d", e.Bits, e.Number)
	}
	// An h10301 frame is not accepted by a reader configured for site37 only.
	g.send(encode(t, wiegand.H10301, 1, 1))
	g.end()
	g.send(encode(t, site, 1, 2))
	g.end()
	if e := g.next(); e.Number != 1<<22|2 {
		t.Errorf("number %d, want the site37 frame", e.Number)
	}
	if s := g.r.Stats(); s.BadLength != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestReaderPinFailure(t *testing.T) {
	d0, d1 := wiegandtest.NewPin("GPIO17", 17), wiegandtest.NewPin("GPIO27", 27)
	busy := errors.New("device or resource busy")
	d1.FailIn(busy)
	r, err := wiegand.New(d0, d1, wiegand.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(context.Background(), make(chan reader.Event))
	if !errors.Is(err, reader.ErrTransport) || !errors.Is(err, busy) || !strings.Contains(err.Error(), "GPIO27") {
		t.Errorf("Run = %v, want ErrTransport naming GPIO27", err)
	}
	if err := r.Probe(); !errors.Is(err, reader.ErrTransport) {
		t.Errorf("Probe = %v", err)
	}
	d1.FailIn(nil)
	if err := r.Probe(); err != nil {
		t.Errorf("Probe = %v", err)
	}
	if d0.Pull() != gpio.PullUp {
		t.Errorf("pull %s, want PullUp", d0.Pull())
	}
}

func TestNewRefusesBadFormat(t *testing.T) {
	_, err := wiegand.New(wiegandtest.NewPin("a", 1), wiegandtest.NewPin("b", 2), wiegand.Options{Formats: []wiegand.Format{{Name: "x", Bits: 70}}})
	if !errors.Is(err, wiegand.ErrFormat) {
		t.Errorf("err = %v", err)
	}
	_, err = wiegand.New(wiegandtest.NewPin("a", 1), wiegandtest.NewPin("b", 2), wiegand.Options{Formats: []wiegand.Format{}})
	if !errors.Is(err, wiegand.ErrFormat) {
		t.Errorf("empty formats: err = %v", err)
	}
}

// A frame cut by the end of Run is dropped; a restarted Run (as
// reader.Manager does) decodes the next one.
func TestReaderRestart(t *testing.T) {
	g := newRig(t, wiegand.Options{})
	g.send(encode(t, wiegand.H10301, 9, 9)[:10])
	g.stop()
	if n := g.d0.Ins(); n < 2 {
		t.Errorf("In called %d times", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.r.Run(ctx, g.events) }()
	g.send(encode(t, wiegand.H10301, 5, 6))
	g.end()
	if e := g.next(); e.Number != 5<<16|6 {
		t.Errorf("number %d", e.Number)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	if s := g.r.Stats(); s.Delivered != 1 || s.BadLength != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A glitch of a bit or two is counted but not logged as a dropped frame.
func TestReaderLineNoise(t *testing.T) {
	g := newRig(t, wiegand.Options{})
	g.send([]bool{true, false})
	g.end()
	g.send(encode(t, wiegand.H10301, 1, 1))
	g.end()
	if e := g.next(); e.Number != 1<<16|1 {
		t.Fatalf("number %d", e.Number)
	}
	if s := g.r.Stats(); s.BadLength != 1 || s.Delivered != 1 {
		t.Errorf("stats %+v", s)
	}
	if strings.Contains(g.log.String(), "dropped") {
		t.Errorf("noise logged at info level: %q", g.log.String())
	}
}
