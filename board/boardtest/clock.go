// Package boardtest simulates a board for tests, the rig and yktd run --sim:
// a fake Clock that tests advance by hand, fake GPIO pins that record every
// output change with a timestamp and whose inputs tests drive, and Fake, a
// board.Board built on both.
package boardtest

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/openykt/yktd/board"
)

// Epoch is the time a fake Clock made by New starts at.
var Epoch = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

// Clock is a board.Clock that only moves when Advance is called. Timer
// callbacks run in the goroutine that calls Advance, in deadline order, with
// Now reading their deadline.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	timers  map[*timer]struct{}
	changed chan struct{} // closed and replaced when a timer is added
}

// NewClock returns a fake clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, timers: map[*timer]struct{}{}, changed: make(chan struct{})}
}

type timer struct {
	c    *Clock
	when time.Time
	seq  uint64
	f    func()
}

// Stop implements board.Timer.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// Now implements board.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements board.Clock: f runs during the Advance that reaches
// now+d (a d <= 0 runs at the next Advance, even Advance(0)).
func (c *Clock) AfterFunc(d time.Duration, f func()) board.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers[t] = struct{}{}
	close(c.changed)
	c.changed = make(chan struct{})
	return t
}

// Advance moves the clock forward by d, running every timer due on the way
// in deadline order (timers a callback schedules inside the window run too).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.AdvanceTo(target)
}

// AdvanceTo moves the clock to t (never backwards), running due timers.
func (c *Clock) AdvanceTo(t time.Time) {
	for {
		c.mu.Lock()
		next := c.next()
		if next == nil || next.when.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		delete(c.timers, next)
		if next.when.After(c.now) {
			c.now = next.when
		}
		c.mu.Unlock()
		next.f()
	}
}

// next returns the earliest timer. c.mu is held.
func (c *Clock) next() *timer {
	var best *timer
	for t := range c.timers {
		if best == nil || t.when.Before(best.when) || (t.when.Equal(best.when) && t.seq < best.seq) {
			best = t
		}
	}
	return best
}

// Pending returns the deadlines of the timers not yet run, earliest first.
func (c *Clock) Pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(c.timers))
	for t := range c.timers {
		out = append(out, t.when)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// AwaitTimers blocks until at least n timers are pending or ctx is done: a
// test that advances the clock while another goroutine schedules uses it to
// know the timer exists before advancing.
func (c *Clock) AwaitTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		have, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
