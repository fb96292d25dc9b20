package boardtest

import (
	"sync"
	"time"

	"github.com/openykt/yktd/board"
	"periph.io/x/conn/v3/gpio"
)

// MaxChanges is how many output changes Pins keeps; older ones are dropped
// (a simulated terminal may run for days).
const MaxChanges = 100000

// Change is one recorded output change.
type Change struct {
	// Pin is the pin's name.
	Pin string
	// High is the new physical level.
	High bool
	// Time is when it changed, on the clock Pins was made with.
	Time time.Time
}

// Pins is a board.Pins backend of simulated pins, made on demand by name.
// It records every output change with a timestamp from its clock.
type Pins struct {
	clock board.Clock

	mu      sync.Mutex
	pins    map[string]*Pin
	missing map[string]bool
	changes []Change
}

var _ board.Pins = (*Pins)(nil)

// NewPins returns simulated pins that timestamp changes with clock (nil is
// board.SystemClock).
func NewPins(clock board.Clock) *Pins {
	if clock == nil {
		clock = board.SystemClock{}
	}
	return &Pins{clock: clock, pins: map[string]*Pin{}, missing: map[string]bool{}}
}

// Pin implements board.Pins: it returns the pin of that name, making it
// the first time, or a *board.PinError for a pin marked with Remove.
func (ps *Pins) Pin(name string) (gpio.PinIO, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.missing[name] {
		return nil, &board.PinError{Pin: name, Reason: "removed from the simulated board"}
	}
	return ps.get(name), nil
}

// Get returns the simulated pin of that name, making it if needed.
func (ps *Pins) Get(name string) *Pin {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.get(name)
}

func (ps *Pins) get(name string) *Pin {
	p, ok := ps.pins[name]
	if !ok {
		p = newPin(ps, name, len(ps.pins))
		ps.pins[name] = p
	}
	return p
}

// Remove makes Pin refuse that name from now on, as a board without it.
func (ps *Pins) Remove(name string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.missing[name] = true
}

// Set drives an input pin's physical level; see Pin.Set.
func (ps *Pins) Set(name string, high bool) {
	ps.Get(name).Set(gpio.Level(high))
}

// High reports a pin's physical level now.
func (ps *Pins) High(name string) bool {
	return bool(ps.Get(name).Read())
}

// Changes returns every recorded output change, oldest first.
func (ps *Pins) Changes() []Change {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]Change(nil), ps.changes...)
}

// ChangesOf returns the recorded changes of one pin, oldest first.
func (ps *Pins) ChangesOf(name string) []Change {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []Change
	for _, c := range ps.changes {
		if c.Pin == name {
			out = append(out, c)
		}
	}
	return out
}

// record appends a change; called by Pin.Out with the pin's lock held.
func (ps *Pins) record(name string, l gpio.Level) {
	now := ps.clock.Now()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.changes) >= MaxChanges {
		ps.changes = append(ps.changes[:0], ps.changes[len(ps.changes)-MaxChanges/2:]...)
	}
	ps.changes = append(ps.changes, Change{Pin: name, High: bool(l), Time: now})
}
