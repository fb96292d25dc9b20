package board

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Edge is a debounced change of an input.
type Edge struct {
	// Input is the input's name.
	Input string
	// Active is the new logical level (active-low already applied).
	Active bool
	// Time is when the level changed: the start of the period it then
	// stayed stable for the debounce time, not the end of that period.
	Time time.Time
}

func (e Edge) String() string {
	s := "inactive"
	if e.Active {
		s = "active"
	}
	return fmt.Sprintf("%s %s %s", e.Time.Format("15:04:05.000"), e.Input, s)
}

// Input is one digital input, debounced: a new level is reported only after
// it stayed for the debounce time, and shorter bounces are swallowed.
//
// A goroutine waits for pin edges with periph's WaitForEdge, which takes no
// context: it waits at most Options.Poll at a time and is woken by the
// pin's Halt when the board closes. A pin that cannot detect edges is read
// every PollFallback instead.
type Input struct {
	b    *Board
	spec InputSpec
	pin  gpio.PinIO

	mu     sync.Mutex
	stable bool      // the debounced logical level
	raw    bool      // the last level read
	rawAt  time.Time // when raw was first seen
	timer  Timer
	gen    uint64
	closed bool
	subs   hub

	polling bool          // the pin has no edge detection: read it every PollFallback
	quit    chan struct{} // closed to stop the watcher
	done    chan struct{} // closed when the watcher returned
}

// PollFallback is how often an input whose pin cannot detect edges (a GPIO
// expander without an interrupt line, say) is read instead.
const PollFallback = 5 * time.Millisecond

func newInput(b *Board, spec InputSpec, pin gpio.PinIO) *Input {
	return &Input{b: b, spec: spec, pin: pin, subs: newHub(), quit: make(chan struct{}), done: make(chan struct{})}
}

// Name returns the input's name.
func (in *Input) Name() string { return in.spec.Name }

// Active returns the debounced logical level: true when the input is active
// (its pin high, or low for an active-low input).
func (in *Input) Active() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stable
}

// Watch returns this input's edges until ctx is done or the board closes
// (then the channel is closed); see Board.Watch.
func (in *Input) Watch(ctx context.Context) <-chan Edge {
	return in.subs.watch(ctx)
}

// start configures the pin for both edges (or, when the pin cannot detect
// edges, for polling), takes its level as the initial stable level and
// starts the watcher.
func (in *Input) start() error {
	if err := in.pin.In(in.spec.Pull.gpio(), gpio.BothEdges); err != nil {
		if err2 := in.pin.In(in.spec.Pull.gpio(), gpio.NoEdge); err2 != nil {
			return fmt.Errorf("board: input %q: pin %s: %w", in.spec.Name, in.spec.Pin, err2)
		}
		in.polling = true
		in.b.log.Warn("board: input pin has no edge detection: polling it", "input", in.spec.Name, "pin", in.spec.Pin, "every", PollFallback, "err", err)
	}
	lvl := in.read()
	in.mu.Lock()
	in.stable, in.raw, in.rawAt = lvl, lvl, in.b.clock.Now()
	in.mu.Unlock()
	go in.watch()
	return nil
}

// read returns the pin's logical level.
func (in *Input) read() bool {
	return bool(in.pin.Read()) != in.spec.ActiveLow
}

func (in *Input) watch() {
	defer close(in.done)
	var tick <-chan time.Time
	if in.polling {
		t := time.NewTicker(PollFallback) // hardware cadence: real time, not the board's clock
		defer t.Stop()
		tick = t.C
	}
	for {
		if in.polling {
			select {
			case <-tick:
			case <-in.quit:
				return
			}
		} else {
			in.pin.WaitForEdge(in.b.poll)
			select {
			case <-in.quit:
				return
			default:
			}
		}
		// Sample on a timeout too: a missed edge is caught at the next poll.
		in.sample(in.read())
	}
}

// sample takes a level read from the pin.
func (in *Input) sample(level bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || level == in.raw {
		return
	}
	in.change(level)
}

// change records a new raw level and (re)starts the debounce. in.mu is held.
func (in *Input) change(level bool) {
	now := in.b.clock.Now()
	in.raw, in.rawAt = level, now
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
	in.gen++
	if level == in.stable {
		return // a bounce back before the debounce time: swallowed
	}
	if in.spec.Debounce == 0 {
		in.confirm()
		return
	}
	gen := in.gen
	in.timer = in.b.clock.AfterFunc(in.spec.Debounce, func() { in.settle(gen) })
}

// settle runs when the level of generation gen stayed for the debounce time.
func (in *Input) settle(gen uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed || gen != in.gen {
		return
	}
	in.timer = nil
	if fresh := in.read(); fresh != in.raw {
		// The pin moved without an edge reaching us: start over from now.
		in.change(fresh)
		return
	}
	in.confirm()
}

// confirm reports raw as the new stable level. in.mu is held, so edges of
// one input are delivered in order.
func (in *Input) confirm() {
	in.stable = in.raw
	e := Edge{Input: in.spec.Name, Active: in.stable, Time: in.rawAt}
	in.b.log.Debug("board: input", "input", e.Input, "active", e.Active, "at", e.Time)
	if n := in.subs.send(e) + in.b.edges.send(e); n > 0 {
		in.b.log.Warn("board: input edge dropped: a watcher is not keeping up", "input", e.Input, "watchers", n)
	}
}

// stop ends the watcher and closes the Watch channels.
func (in *Input) stop() {
	in.signalStop()
	in.finishStop()
}

// signalStop asks the watcher to return; Close signals every input before
// waiting for any, so that their WaitForEdge timeouts overlap.
func (in *Input) signalStop() {
	select {
	case <-in.quit:
		return
	default:
	}
	close(in.quit)
	_ = in.pin.Halt() // wakes WaitForEdge (periph gpioioctl: read deadline)
}

// finishStop waits for the watcher and closes the Watch channels.
func (in *Input) finishStop() {
	<-in.done
	in.mu.Lock()
	in.closed = true
	if in.timer != nil {
		in.timer.Stop()
		in.timer = nil
	}
	in.mu.Unlock()
	in.subs.close()
}
