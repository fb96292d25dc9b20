package config

import (
	"time"
)

// Board is the terminal's GPIO: relays (turnstile arms, door strike, valve),
// inputs (passage sensors, fire alarm, door contact, tamper, keys) and
// indicators (LEDs, buzzer).
type Board struct {
	// Backend is "periph" (the board's GPIO through periph.io) or "fake"
	// (simulated pins, for --sim and the rig). Default periph.
	Backend    string      `toml:"backend"`
	Relays     []Relay     `toml:"relay"`
	Inputs     []Input     `toml:"input"`
	Indicators []Indicator `toml:"indicator"`
	// Tamper names the [[board.input]] of the case-open / tamper switch:
	// when it turns active the terminal journals an alarm and takes no
	// money until a technician clears it (POST /v1/tamper/clear). Empty:
	// none.
	Tamper string `toml:"tamper"`
}

// Relay is one output that drives a lock, turnstile arm or valve.
type Relay struct {
	Name      string `toml:"name"`
	Pin       string `toml:"pin"`
	ActiveLow bool   `toml:"active_low"`
	// Safe is the state at start, at shutdown and on Halt: "off" (default,
	// de-energised) or "on" (for fail-safe locks that are energised to lock).
	Safe string `toml:"safe"`
	// MinPulse is the shortest pulse the relay accepts (default 100ms,
	// 10ms to 10s): shorter pulses are refused, not sent.
	MinPulse Duration `toml:"min_pulse"`
}

// Input is one digital input.
type Input struct {
	Name      string `toml:"name"`
	Pin       string `toml:"pin"`
	ActiveLow bool   `toml:"active_low"`
	Pull      string `toml:"pull"` // "up", "down" or "" (none)
	// Debounce is how long a new level must stay before it counts (default
	// 20ms, at most 1s).
	Debounce Duration `toml:"debounce"`
}

// Indicator is an LED or a buzzer.
type Indicator struct {
	Name      string `toml:"name"`
	Pin       string `toml:"pin"`
	ActiveLow bool   `toml:"active_low"`
	// Kind is "led" or "buzzer"; default "buzzer" for an indicator named
	// "buzzer", "led" otherwise. A board has at most one buzzer.
	Kind string `toml:"kind"`
}

// Indicator kinds.
const (
	IndicatorLED    = "led"
	IndicatorBuzzer = "buzzer"
)

// Board limits and defaults.
const (
	DefaultMinPulse = 100 * time.Millisecond
	DefaultDebounce = 20 * time.Millisecond
	minMinPulse     = 10 * time.Millisecond
	maxMinPulse     = 10 * time.Second
	maxDebounce     = time.Second
	maxBoardName    = 32
)

func (b *Board) defaults() {
	if b.Backend == "" {
		b.Backend = "periph"
	}
	for i := range b.Relays {
		if b.Relays[i].Safe == "" {
			b.Relays[i].Safe = "off"
		}
		if b.Relays[i].MinPulse == 0 {
			b.Relays[i].MinPulse = Duration(DefaultMinPulse)
		}
	}
	for i := range b.Inputs {
		if b.Inputs[i].Debounce == 0 {
			b.Inputs[i].Debounce = Duration(DefaultDebounce)
		}
	}
	for i := range b.Indicators {
		if b.Indicators[i].Kind == "" {
			b.Indicators[i].Kind = IndicatorLED
			if b.Indicators[i].Name == IndicatorBuzzer {
				b.Indicators[i].Kind = IndicatorBuzzer
			}
		}
	}
}

// validBoardName reports whether s is a name a technician can type on the
// command line: 1 to 32 of a-z A-Z 0-9 _ - .
func validBoardName(s string) bool {
	if s == "" || len(s) > maxBoardName {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func (b *Board) validate() error {
	switch b.Backend {
	case "periph", "fake":
	default:
		return invalid("board.backend %q: want periph or fake", b.Backend)
	}
	names := map[string]bool{}
	pins := map[string]string{}
	check := func(kind, name, pin string) error {
		if name == "" {
			return invalid("board.%s: name is required", kind)
		}
		if !validBoardName(name) {
			return invalid("board.%s %q: name: want 1 to %d of a-z, A-Z, 0-9, _, -, .", kind, name, maxBoardName)
		}
		if names[name] {
			return invalid("board.%s %q: name used twice", kind, name)
		}
		names[name] = true
		if pin == "" && b.Backend == "periph" {
			return invalid("board.%s %q: pin is required", kind, name)
		}
		if pin != "" {
			if other, dup := pins[pin]; dup {
				return invalid("board.%s %q: pin %q already used by %q", kind, name, pin, other)
			}
			pins[pin] = name
		}
		return nil
	}
	for _, r := range b.Relays {
		if err := check("relay", r.Name, r.Pin); err != nil {
			return err
		}
		if r.Safe != "off" && r.Safe != "on" {
			return invalid("board.relay %q: safe %q: want off or on", r.Name, r.Safe)
		}
		if d := r.MinPulse.D(); d < minMinPulse || d > maxMinPulse {
			return invalid("board.relay %q: min_pulse %s: want %s to %s", r.Name, d, minMinPulse, maxMinPulse)
		}
	}
	for _, in := range b.Inputs {
		if err := check("input", in.Name, in.Pin); err != nil {
			return err
		}
		switch in.Pull {
		case "", "up", "down":
		default:
			return invalid("board.input %q: pull %q: want up, down or empty", in.Name, in.Pull)
		}
		if d := in.Debounce.D(); d > maxDebounce {
			return invalid("board.input %q: debounce %s: at most %s", in.Name, d, maxDebounce)
		}
	}
	if b.Tamper != "" {
		found := false
		for _, in := range b.Inputs {
			found = found || in.Name == b.Tamper
		}
		if !found {
			return invalid("board.tamper %q: no [[board.input]] of that name", b.Tamper)
		}
	}
	buzzer := ""
	for _, ind := range b.Indicators {
		if err := check("indicator", ind.Name, ind.Pin); err != nil {
			return err
		}
		switch ind.Kind {
		case IndicatorLED:
		case IndicatorBuzzer:
			if buzzer != "" {
				return invalid("board.indicator %q: kind buzzer: %q is the buzzer already", ind.Name, buzzer)
			}
			buzzer = ind.Name
		default:
			return invalid("board.indicator %q: kind %q: want led or buzzer", ind.Name, ind.Kind)
		}
	}
	return nil
}

// HasRelay reports whether the board has a relay of that name.
func (b *Board) HasRelay(name string) bool {
	for _, r := range b.Relays {
		if r.Name == name {
			return true
		}
	}
	return false
}

// HasInput reports whether the board has an input of that name.
func (b *Board) HasInput(name string) bool {
	for _, in := range b.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// MinPulseOf returns the minimum pulse of the named relay, or 0 when the
// board has no such relay (for checks such as gate.pulse >= min_pulse).
func (b *Board) MinPulseOf(name string) time.Duration {
	for _, r := range b.Relays {
		if r.Name == name {
			return r.MinPulse.D()
		}
	}
	return 0
}

// Buzzer returns the name of the buzzer indicator, or "" when the board has
// none.
func (b *Board) Buzzer() string {
	for _, ind := range b.Indicators {
		if ind.Kind == IndicatorBuzzer {
			return ind.Name
		}
	}
	return ""
}
