package board

import (
	"fmt"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Spec says which relays, inputs and indicators a Board has and on which
// pins. Names are unique across all three kinds; so are pins.
type Spec struct {
	Relays     []RelaySpec
	Inputs     []InputSpec
	Indicators []IndicatorSpec
}

// RelaySpec is one relay output.
type RelaySpec struct {
	// Name is how flows and technicians call the relay ("in", "out", "door").
	Name string
	// Pin is the backend's pin name ("GPIO17" with periph.io).
	Pin string
	// ActiveLow means the relay coil is energised when the pin is low.
	ActiveLow bool
	// SafeOn means the relay's safe state is energised (a fail-safe lock
	// that is energised to lock); the default safe state is de-energised.
	SafeOn bool
	// MinPulse is the shortest pulse Pulse accepts; shorter ones are refused
	// with ErrPulseTooShort. Zero accepts any positive pulse.
	MinPulse time.Duration
}

// Pull is the bias resistor an input asks for.
type Pull int

// Pull values.
const (
	PullNone Pull = iota // no bias (external resistor)
	PullUp               // pull-up: an open contact reads high
	PullDown             // pull-down: an open contact reads low
)

func (p Pull) gpio() gpio.Pull {
	switch p {
	case PullUp:
		return gpio.PullUp
	case PullDown:
		return gpio.PullDown
	}
	return gpio.Float
}

// InputSpec is one digital input.
type InputSpec struct {
	Name string
	Pin  string
	// ActiveLow means the input is active when the pin is low (a contact
	// to ground with a pull-up).
	ActiveLow bool
	Pull      Pull
	// Debounce is how long a new level must stay before it is reported;
	// bounces shorter than that are swallowed. Zero reports every change.
	Debounce time.Duration
}

// IndicatorSpec is an LED or a buzzer.
type IndicatorSpec struct {
	Name string
	Pin  string
	// ActiveLow means the indicator is lit (or sounds) when the pin is low.
	ActiveLow bool
}

// Pins is a GPIO backend: it hands out pins by name. PeriphPins is the real
// one; boardtest.Pins simulates pins.
type Pins interface {
	// Pin returns the pin of that name, or an error (a *PinError for a pin
	// the backend does not have).
	Pin(name string) (gpio.PinIO, error)
}

// Options are a Board's collaborators.
type Options struct {
	// Pins is the GPIO backend. Required.
	Pins Pins
	// Clock schedules pulse ends, debounce and blinks; nil is SystemClock.
	Clock Clock
	// Logger receives relay changes, input edges and backend trouble; nil
	// discards.
	Logger *slog.Logger
	// Poll is how long an input watcher waits in WaitForEdge before it
	// checks whether the board is closing (periph's WaitForEdge takes no
	// context). Zero is 100 ms.
	Poll time.Duration
}

// validate checks names, pins and durations.
func (s *Spec) validate() error {
	names := map[string]string{}
	pins := map[string]string{}
	check := func(kind, name, pin string) error {
		if name == "" {
			return fmt.Errorf("%w: %s without a name", ErrBadSpec, kind)
		}
		if k, dup := names[name]; dup {
			return fmt.Errorf("%w: %s %q: name already used by a %s", ErrBadSpec, kind, name, k)
		}
		names[name] = kind
		if pin == "" {
			return fmt.Errorf("%w: %s %q: no pin", ErrBadSpec, kind, name)
		}
		if other, dup := pins[pin]; dup {
			return fmt.Errorf("%w: %s %q: pin %q already used by %q", ErrBadSpec, kind, name, pin, other)
		}
		pins[pin] = name
		return nil
	}
	for _, r := range s.Relays {
		if err := check("relay", r.Name, r.Pin); err != nil {
			return err
		}
		if r.MinPulse < 0 {
			return fmt.Errorf("%w: relay %q: negative minimum pulse", ErrBadSpec, r.Name)
		}
	}
	for _, in := range s.Inputs {
		if err := check("input", in.Name, in.Pin); err != nil {
			return err
		}
		if in.Debounce < 0 {
			return fmt.Errorf("%w: input %q: negative debounce", ErrBadSpec, in.Name)
		}
		if in.Pull < PullNone || in.Pull > PullDown {
			return fmt.Errorf("%w: input %q: unknown pull %d", ErrBadSpec, in.Name, in.Pull)
		}
	}
	for _, ind := range s.Indicators {
		if err := check("indicator", ind.Name, ind.Pin); err != nil {
			return err
		}
	}
	return nil
}
