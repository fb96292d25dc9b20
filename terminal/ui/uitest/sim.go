// Package uitest simulates the customer display, the keypad and the buzzer
// for flow tests and the rig: it records every message shown and every
// beep, and plays keys that the test queued (amounts, PINs, Cancel, a
// timeout). It runs the same entry logic as ui.Console.
package uitest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/openykt/yktd/terminal/ui"
)

// Sim is a simulated display, keypad and buzzer. It is safe for concurrent
// use: the flow under test reads keys in its goroutine while the test
// queues them in another.
type Sim struct {
	mu       sync.Mutex
	shown    []ui.Message
	clears   int
	beeps    []bool
	queue    []entry
	reading  int           // reads waiting for a key
	changed  chan struct{} // closed and replaced on every change
	keyCount int           // keys consumed
}

// entry is a queued key or a queued failure.
type entry struct {
	key ui.Key
	err error
}

var (
	_ ui.Display   = (*Sim)(nil)
	_ ui.Keypad    = (*Sim)(nil)
	_ ui.Buzzer    = (*Sim)(nil)
	_ ui.KeySource = (*Sim)(nil)
)

// New returns a Sim with nothing shown and no keys queued.
func New() *Sim {
	return &Sim{changed: make(chan struct{})}
}

// notify wakes waiters. s.mu is held.
func (s *Sim) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Show implements ui.Display: it records m.
func (s *Sim) Show(_ context.Context, m ui.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shown = append(s.shown, m)
	s.notify()
	return nil
}

// Clear implements ui.Display: it counts the clears.
func (s *Sim) Clear(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clears++
	s.notify()
	return nil
}

// Beep implements ui.Buzzer: it records ok.
func (s *Sim) Beep(ok bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beeps = append(s.beeps, ok)
	s.notify()
	return nil
}

// ReadAmount implements ui.Keypad with ui.ReadAmountFrom on the queued keys.
func (s *Sim) ReadAmount(ctx context.Context) (int64, error) {
	return ui.ReadAmountFrom(ctx, s, nil)
}

// ReadPIN implements ui.Keypad with ui.ReadPINFrom on the queued keys.
func (s *Sim) ReadPIN(ctx context.Context, maxLen int) (ui.PIN, error) {
	return ui.ReadPINFrom(ctx, s, maxLen, nil)
}

// NextKey implements ui.KeySource: the next queued key, blocking while the
// queue is empty until a key is queued or ctx ends.
func (s *Sim) NextKey(ctx context.Context) (ui.Key, error) {
	s.mu.Lock()
	s.reading++
	s.notify()
	defer func() {
		s.mu.Lock()
		s.reading--
		s.mu.Unlock()
	}()
	for {
		if len(s.queue) > 0 {
			e := s.queue[0]
			s.queue = s.queue[1:]
			s.keyCount++
			s.notify()
			s.mu.Unlock()
			return e.key, e.err
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		s.mu.Lock()
	}
}

func (s *Sim) push(es ...entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, es...)
	s.notify()
}

// Keys queues raw keys.
func (s *Sim) Keys(keys ...ui.Key) {
	es := make([]entry, len(keys))
	for i, k := range keys {
		es[i] = entry{key: k}
	}
	s.push(es...)
}

// Type queues the keys of a string as a console would decode them: digits,
// '.', '\n' Enter, '\b' Backspace, 'C' or Esc Cancel. It panics on any
// other byte (a typo in a test).
func (s *Sim) Type(text string) {
	var keys []ui.Key
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= '0' && c <= '9', c == '.':
			keys = append(keys, ui.Key(c))
		case c == '\n':
			keys = append(keys, ui.KeyEnter)
		case c == '\b':
			keys = append(keys, ui.KeyBackspace)
		case c == 'C' || c == 0x1b:
			keys = append(keys, ui.KeyCancel)
		default:
			panic(fmt.Sprintf("uitest: Type: no key for %q", c))
		}
	}
	s.Keys(keys...)
}

// QueueAmount queues the cashier keying fen as yuan and Enter.
func (s *Sim) QueueAmount(fen int64) {
	s.Type(strconv.FormatInt(fen/100, 10) + "." + fmt.Sprintf("%02d", fen%100) + "\n")
}

// QueuePIN queues the holder keying digits and Enter.
func (s *Sim) QueuePIN(digits string) {
	s.Type(digits + "\n")
}

// QueueCancel queues the Cancel key.
func (s *Sim) QueueCancel() {
	s.Keys(ui.KeyCancel)
}

// QueueTimeout makes the entry that reaches this point in the queue fail
// with ui.ErrTimeout, as if nobody pressed a key before the deadline.
func (s *Sim) QueueTimeout() {
	s.push(entry{err: ui.ErrTimeout})
}

// Pending returns how many queued keys were not read yet.
func (s *Sim) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Shown returns every message shown, oldest first.
func (s *Sim) Shown() []ui.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ui.Message(nil), s.shown...)
}

// Codes returns the codes of every message shown, oldest first.
func (s *Sim) Codes() []ui.Code {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ui.Code, len(s.shown))
	for i, m := range s.shown {
		out[i] = m.Code
	}
	return out
}

// Last returns the message shown last; ok is false when none was.
func (s *Sim) Last() (m ui.Message, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.shown) == 0 {
		return ui.Message{}, false
	}
	return s.shown[len(s.shown)-1], true
}

// Clears returns how many times the display was cleared.
func (s *Sim) Clears() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clears
}

// Beeps returns every beep, oldest first (true: ok, false: refused).
func (s *Sim) Beeps() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.beeps...)
}

// WaitShown blocks until a message with code has been shown (now or
// before) and returns the first such message, or ctx's error.
func (s *Sim) WaitShown(ctx context.Context, code ui.Code) (ui.Message, error) {
	for {
		s.mu.Lock()
		for _, m := range s.shown {
			if m.Code == code {
				s.mu.Unlock()
				return m, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ui.Message{}, fmt.Errorf("uitest: waiting for %q: %w", code, ctx.Err())
		}
	}
}

// AwaitReading blocks until an entry waits for a key with the queue empty,
// or ctx ends: a test uses it to queue keys only once the flow asks.
func (s *Sim) AwaitReading(ctx context.Context) error {
	for {
		s.mu.Lock()
		ready := s.reading > 0 && len(s.queue) == 0
		changed := s.changed
		s.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("uitest: waiting for a keypad read: %w", ctx.Err())
		}
	}
}
