package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// boardDevice is a POS device section the board tests put a [board] under.
const boardDevice = `
[device]
id = "POS-0001"
kind = "pos"
data_dir = "/var/lib/yktd"
[pos]
mode = "fixed"
price_fen = 1250
`

func parseBoard(board string) (*Config, error) {
	return Parse([]byte(boardDevice + board))
}

func TestBoardDefaults(t *testing.T) {
	c, err := parseBoard(`
[board]
[[board.relay]]
name = "door"
pin = "GPIO17"
[[board.input]]
name = "contact"
pin = "GPIO5"
[[board.indicator]]
name = "buzzer"
pin = "GPIO18"
[[board.indicator]]
name = "led_green"
pin = "GPIO23"
`)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Board
	if b.Backend != "periph" || b.Relays[0].Safe != "off" || b.Relays[0].MinPulse.D() != DefaultMinPulse {
		t.Errorf("relay defaults: backend %q %+v", b.Backend, b.Relays[0])
	}
	if b.Inputs[0].Debounce.D() != DefaultDebounce {
		t.Errorf("debounce default = %s", b.Inputs[0].Debounce.D())
	}
	if b.Indicators[0].Kind != IndicatorBuzzer || b.Indicators[1].Kind != IndicatorLED {
		t.Errorf("indicator kinds = %q, %q", b.Indicators[0].Kind, b.Indicators[1].Kind)
	}
	if b.Buzzer() != "buzzer" {
		t.Errorf("Buzzer() = %q", b.Buzzer())
	}
	if b.MinPulseOf("door") != DefaultMinPulse || b.MinPulseOf("nope") != 0 {
		t.Errorf("MinPulseOf = %s, %s", b.MinPulseOf("door"), b.MinPulseOf("nope"))
	}
}

func TestBoardExplicit(t *testing.T) {
	c, err := parseBoard(`
[board]
backend = "fake"
[[board.relay]]
name = "lock"
safe = "on"
min_pulse = "250ms"
[[board.input]]
name = "fire"
debounce = "50ms"
[[board.indicator]]
name = "beeper"
kind = "buzzer"
`)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Board
	if b.Relays[0].MinPulse.D() != 250*time.Millisecond || b.Relays[0].Safe != "on" {
		t.Errorf("relay = %+v", b.Relays[0])
	}
	if b.Inputs[0].Debounce.D() != 50*time.Millisecond {
		t.Errorf("input = %+v", b.Inputs[0])
	}
	if b.Buzzer() != "beeper" {
		t.Errorf("Buzzer() = %q", b.Buzzer())
	}
}

func TestBoardRefuses(t *testing.T) {
	for _, tc := range []struct{ name, board, want string }{
		{"backend", "[board]\nbackend = \"gpio\"\n", "board.backend"},
		{"no pin with periph", "[board]\n[[board.relay]]\nname = \"in\"\n", "pin is required"},
		{"no name", "[board]\nbackend = \"fake\"\n[[board.relay]]\npin = \"GPIO1\"\n", "name is required"},
		{"name with a space", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"arm in\"\n", "name: want"},
		{"long name", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"" + strings.Repeat("a", 33) + "\"\n", "name: want"},
		{"name twice", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"x\"\n[[board.input]]\nname = \"x\"\n", "used twice"},
		{"pin twice", "[board]\n[[board.relay]]\nname = \"a\"\npin = \"GPIO1\"\n[[board.indicator]]\nname = \"b\"\npin = \"GPIO1\"\n", "already used"},
		{"safe", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"a\"\nsafe = \"closed\"\n", "safe"},
		{"min pulse low", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"a\"\nmin_pulse = \"5ms\"\n", "min_pulse"},
		{"min pulse high", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"a\"\nmin_pulse = \"11s\"\n", "min_pulse"},
		{"pull", "[board]\nbackend = \"fake\"\n[[board.input]]\nname = \"a\"\npull = \"sideways\"\n", "pull"},
		{"debounce", "[board]\nbackend = \"fake\"\n[[board.input]]\nname = \"a\"\ndebounce = \"2s\"\n", "debounce"},
		{"kind", "[board]\nbackend = \"fake\"\n[[board.indicator]]\nname = \"a\"\nkind = \"lamp\"\n", "kind"},
		{"two buzzers", "[board]\nbackend = \"fake\"\n[[board.indicator]]\nname = \"buzzer\"\n[[board.indicator]]\nname = \"b2\"\nkind = \"buzzer\"\n", "buzzer already"},
		{"unknown key", "[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"a\"\nmin_pulses = \"1s\"\n", "unknown keys"},
		{"tamper names no input", "[board]\nbackend = \"fake\"\ntamper = \"case\"\n[[board.input]]\nname = \"a\"\n", "board.tamper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBoard(tc.board)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// FuzzBoardSection feeds arbitrary [board] sections to Parse: it must never
// panic, and a board it accepts keeps the rules the board package relies on
// (known backend, unique names, unique pins, a pin for every periph item,
// safe off or on, bounded durations, at most one buzzer).
func FuzzBoardSection(f *testing.F) {
	f.Add([]byte("[board]\nbackend = \"fake\"\n[[board.relay]]\nname = \"in\"\n"))
	f.Add([]byte("[board]\n[[board.relay]]\nname = \"in\"\npin = \"GPIO17\"\nactive_low = true\nsafe = \"on\"\nmin_pulse = \"150ms\"\n"))
	f.Add([]byte("[board]\n[[board.input]]\nname = \"fire\"\npin = \"GPIO13\"\npull = \"up\"\ndebounce = \"50ms\"\n"))
	f.Add([]byte("[board]\n[[board.indicator]]\nname = \"buzzer\"\npin = \"GPIO18\"\n[[board.indicator]]\nname = \"led\"\npin = \"GPIO18\"\n"))
	f.Fuzz(func(t *testing.T, section []byte) {
		c, err := parseBoard(string(section))
		if err != nil {
			return
		}
		b := c.Board
		if b.Backend != "periph" && b.Backend != "fake" {
			t.Fatalf("accepted backend %q", b.Backend)
		}
		names, pins, buzzers := map[string]bool{}, map[string]bool{}, 0
		item := func(name, pin string) {
			if !validBoardName(name) || names[name] {
				t.Fatalf("accepted name %q (bad or twice)", name)
			}
			names[name] = true
			if pin == "" && b.Backend == "periph" {
				t.Fatalf("accepted %q without a pin on periph", name)
			}
			if pin != "" && pins[pin] {
				t.Fatalf("accepted pin %q twice", pin)
			}
			pins[pin] = pin != ""
		}
		for _, r := range b.Relays {
			item(r.Name, r.Pin)
			if (r.Safe != "off" && r.Safe != "on") || r.MinPulse.D() < minMinPulse || r.MinPulse.D() > maxMinPulse {
				t.Fatalf("accepted relay %+v", r)
			}
		}
		for _, in := range b.Inputs {
			item(in.Name, in.Pin)
			if in.Debounce.D() > maxDebounce || (in.Pull != "" && in.Pull != "up" && in.Pull != "down") {
				t.Fatalf("accepted input %+v", in)
			}
		}
		for _, ind := range b.Indicators {
			item(ind.Name, ind.Pin)
			if ind.Kind == IndicatorBuzzer {
				buzzers++
			} else if ind.Kind != IndicatorLED {
				t.Fatalf("accepted indicator %+v", ind)
			}
		}
		if buzzers > 1 {
			t.Fatalf("accepted %d buzzers", buzzers)
		}
	})
}
