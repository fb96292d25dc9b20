package board

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Pattern is a blink (LED) or beep (buzzer) sequence: on for On, off for
// Off, Count times; it always ends off. Count 0 repeats until On, Off,
// another Blink, Halt or Close.
type Pattern struct {
	On    time.Duration
	Off   time.Duration
	Count int
}

// The buzzer's patterns for a tap's outcome.
var (
	// BeepOK is one short beep: approved, pass.
	BeepOK = Pattern{On: 100 * time.Millisecond, Count: 1}
	// BeepRefused is three short beeps: refused.
	BeepRefused = Pattern{On: 100 * time.Millisecond, Off: 100 * time.Millisecond, Count: 3}
)

func (p Pattern) validate() error {
	if p.On <= 0 {
		return fmt.Errorf("%w: on time %s", ErrBadPattern, p.On)
	}
	if p.Count < 0 {
		return fmt.Errorf("%w: count %d", ErrBadPattern, p.Count)
	}
	if p.Count != 1 && p.Off <= 0 {
		return fmt.Errorf("%w: %d repeats need an off time", ErrBadPattern, p.Count)
	}
	return nil
}

// Indicator is an LED or a buzzer.
type Indicator struct {
	b    *Board
	spec IndicatorSpec
	pin  gpio.PinOut

	mu     sync.Mutex
	lit    bool
	driven bool
	gen    uint64 // bumped by every On, Off, Blink: ends a running pattern
	timer  Timer
}

// Name returns the indicator's name.
func (ind *Indicator) Name() string { return ind.spec.Name }

// Lit reports whether the indicator is on (sounding) now.
func (ind *Indicator) Lit() bool {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	return ind.lit
}

// On lights the indicator (sounds the buzzer), ending a running pattern.
func (ind *Indicator) On() error {
	return ind.steady(true)
}

// Off turns the indicator off, ending a running pattern.
func (ind *Indicator) Off() error {
	return ind.steady(false)
}

// Halt turns the indicator off; it works on a closed board too.
func (ind *Indicator) Halt() error {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	ind.cancel()
	return ind.set(false, true)
}

func (ind *Indicator) steady(on bool) error {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	if ind.b.isClosed() {
		return fmt.Errorf("board: indicator %q: %w", ind.spec.Name, ErrClosed)
	}
	ind.cancel()
	return ind.set(on, false)
}

// Blink plays p and returns at once, replacing a running pattern.
func (ind *Indicator) Blink(p Pattern) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("board: indicator %q: %w", ind.spec.Name, err)
	}
	ind.mu.Lock()
	defer ind.mu.Unlock()
	if ind.b.isClosed() {
		return fmt.Errorf("board: indicator %q: %w", ind.spec.Name, ErrClosed)
	}
	ind.cancel()
	return ind.lightUp(ind.gen, p, 1)
}

// Beep plays BeepOK (ok) or BeepRefused (!ok): one short beep for an
// approved tap, three for a refused one.
func (ind *Indicator) Beep(ok bool) error {
	if ok {
		return ind.Blink(BeepOK)
	}
	return ind.Blink(BeepRefused)
}

// cancel ends a running pattern. ind.mu is held.
func (ind *Indicator) cancel() {
	ind.gen++
	if ind.timer != nil {
		ind.timer.Stop()
		ind.timer = nil
	}
}

// lightUp starts the n-th on period of p. ind.mu is held.
func (ind *Indicator) lightUp(gen uint64, p Pattern, n int) error {
	if err := ind.set(true, false); err != nil {
		return err
	}
	ind.timer = ind.b.clock.AfterFunc(p.On, func() { ind.step(gen, p, n, false) })
	return nil
}

// step is a pattern's timer: the end of the n-th on (lit false) or off (lit
// true) period.
func (ind *Indicator) step(gen uint64, p Pattern, n int, lit bool) {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	if gen != ind.gen {
		return
	}
	ind.timer = nil
	var err error
	switch {
	case lit:
		err = ind.lightUp(gen, p, n+1)
	default:
		err = ind.set(false, false)
		if err == nil && (p.Count == 0 || n < p.Count) {
			ind.timer = ind.b.clock.AfterFunc(p.Off, func() { ind.step(gen, p, n, true) })
		}
	}
	if err != nil {
		ind.b.log.Error("board: indicator pattern stopped", "indicator", ind.spec.Name, "err", err)
	}
}

// set writes the pin. ind.mu is held.
func (ind *Indicator) set(on, force bool) error {
	if on == ind.lit && ind.driven && !force {
		return nil
	}
	level := gpio.Level(on != ind.spec.ActiveLow)
	if err := ind.pin.Out(level); err != nil {
		return fmt.Errorf("board: indicator %q: pin %s: out %s: %w", ind.spec.Name, ind.spec.Pin, level, err)
	}
	ind.lit, ind.driven = on, true
	return nil
}
