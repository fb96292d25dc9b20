package boardtest

import (
	"fmt"

	"github.com/openykt/yktd/board"
)

// Fake is a board.Board on simulated pins and a fake clock, with helpers to
// drive inputs by name and read outputs back. Embedding the *board.Board
// gives the flows under test the real Relay, Input and Indicator logic.
type Fake struct {
	*board.Board
	// Clock is the fake clock every pulse, debounce and blink runs on.
	Clock *Clock
	// Pins are the simulated pins; their changes are timestamped by Clock.
	Pins *Pins

	spec board.Spec
}

// New builds a Fake from spec on a fake clock reading Epoch. An empty pin
// in spec takes the item's name (a simulated board needs no pin plan).
func New(spec board.Spec) (*Fake, error) {
	return NewWith(spec, NewClock(Epoch))
}

// NewWith builds a Fake on the given fake clock.
func NewWith(spec board.Spec, clock *Clock) (*Fake, error) {
	spec = FillPins(spec)
	pins := NewPins(clock)
	b, err := board.New(spec, board.Options{Pins: pins, Clock: clock})
	if err != nil {
		return nil, err
	}
	return &Fake{Board: b, Clock: clock, Pins: pins, spec: spec}, nil
}

// FillPins returns spec with every empty pin set to the item's name.
func FillPins(spec board.Spec) board.Spec {
	out := board.Spec{
		Relays:     append([]board.RelaySpec(nil), spec.Relays...),
		Inputs:     append([]board.InputSpec(nil), spec.Inputs...),
		Indicators: append([]board.IndicatorSpec(nil), spec.Indicators...),
	}
	for i := range out.Relays {
		if out.Relays[i].Pin == "" {
			out.Relays[i].Pin = out.Relays[i].Name
		}
	}
	for i := range out.Inputs {
		if out.Inputs[i].Pin == "" {
			out.Inputs[i].Pin = out.Inputs[i].Name
		}
	}
	for i := range out.Indicators {
		if out.Indicators[i].Pin == "" {
			out.Indicators[i].Pin = out.Indicators[i].Name
		}
	}
	return out
}

// SetInput makes the named input active or inactive, honouring its
// active-low wiring; it returns once the board has seen the change (the
// debounce then runs on Clock).
func (f *Fake) SetInput(name string, active bool) error {
	for _, in := range f.spec.Inputs {
		if in.Name == name {
			f.Pins.Set(in.Pin, active != in.ActiveLow)
			return nil
		}
	}
	return fmt.Errorf("boardtest: %w: input %q", board.ErrUnknown, name)
}

// PinOf returns the pin of a relay, input or indicator name, or "".
func (f *Fake) PinOf(name string) string {
	for _, r := range f.spec.Relays {
		if r.Name == name {
			return r.Pin
		}
	}
	for _, in := range f.spec.Inputs {
		if in.Name == name {
			return in.Pin
		}
	}
	for _, ind := range f.spec.Indicators {
		if ind.Name == name {
			return ind.Pin
		}
	}
	return ""
}

// Changes returns the recorded output changes of a relay or indicator name
// (physical levels), oldest first.
func (f *Fake) Changes(name string) []Change {
	p := f.PinOf(name)
	if p == "" {
		return nil
	}
	return f.Pins.ChangesOf(p)
}

// High reports the physical level of a named item's pin now.
func (f *Fake) High(name string) bool {
	return f.Pins.High(f.PinOf(name))
}
