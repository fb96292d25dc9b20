package config

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
}

// Relay is one output that drives a lock, turnstile arm or valve.
type Relay struct {
	Name      string `toml:"name"`
	Pin       string `toml:"pin"`
	ActiveLow bool   `toml:"active_low"`
	// Safe is the state at start, at shutdown and on Halt: "off" (default,
	// de-energised) or "on" (for fail-safe locks that are energised to lock).
	Safe string `toml:"safe"`
}

// Input is one digital input.
type Input struct {
	Name      string   `toml:"name"`
	Pin       string   `toml:"pin"`
	ActiveLow bool     `toml:"active_low"`
	Pull      string   `toml:"pull"` // "up", "down" or "" (none)
	Debounce  Duration `toml:"debounce"`
}

// Indicator is an LED or a buzzer.
type Indicator struct {
	Name      string `toml:"name"`
	Pin       string `toml:"pin"`
	ActiveLow bool   `toml:"active_low"`
}

func (b *Board) defaults() {
	if b.Backend == "" {
		b.Backend = "periph"
	}
	for i := range b.Relays {
		if b.Relays[i].Safe == "" {
			b.Relays[i].Safe = "off"
		}
	}
}

func (b *Board) validate() error {
	switch b.Backend {
	case "periph", "fake":
	default:
		return invalid("board.backend %q: want periph or fake", b.Backend)
	}
	names := map[string]bool{}
	check := func(kind, name, pin string) error {
		if name == "" {
			return invalid("board.%s: name is required", kind)
		}
		if names[name] {
			return invalid("board.%s %q: name used twice", kind, name)
		}
		names[name] = true
		if pin == "" && b.Backend == "periph" {
			return invalid("board.%s %q: pin is required", kind, name)
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
	}
	for _, ind := range b.Indicators {
		if err := check("indicator", ind.Name, ind.Pin); err != nil {
			return err
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
