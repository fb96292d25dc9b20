package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const minimalGate = `
[device]
id = "GATE-0001"
kind = "gate"
data_dir = "/var/lib/yktd"

[board]
backend = "fake"
[[board.relay]]
name = "in"
[[board.input]]
name = "passage_in"

[gate]
door = "dorm-3-east"
relay_in = "in"
passage_in = "passage_in"
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimalGate))
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.Store != "/var/lib/yktd/yktd.db" {
		t.Errorf("store = %q", c.Device.Store)
	}
	if c.Gate.Pulse.D() != 300*time.Millisecond || c.Gate.PassageWindow.D() != 5*time.Second {
		t.Errorf("gate defaults: pulse %s window %s", c.Gate.Pulse.D(), c.Gate.PassageWindow.D())
	}
	if c.Board.Relays[0].Safe != "off" {
		t.Errorf("relay safe default = %q", c.Board.Relays[0].Safe)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"unknown key", "[gate]\n", "[gate]\nrelay_inn = \"x\"\n"},
		{"short pulse", "door = \"dorm-3-east\"", "door = \"dorm-3-east\"\npulse = \"50ms\""},
		{"missing relay", "relay_in = \"in\"", "relay_in = \"out\""},
		{"pulse below the relay's minimum", "[[board.relay]]\nname = \"in\"", "[[board.relay]]\nname = \"in\"\nmin_pulse = \"500ms\""},
		{"bad kind", "kind = \"gate\"", "kind = \"atm\""},
		{"bad duration", "door = \"dorm-3-east\"", "door = \"dorm-3-east\"\npulse = \"soon\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(minimalGate, tc.edit, tc.want, 1)
			if text == minimalGate {
				t.Fatal("edit did not apply")
			}
			_, err := Parse([]byte(text))
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.name != "bad duration" && !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestControlLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:7788": true, "[::1]:7788": true, "localhost:7788": true,
		"unix:/run/yktd.sock": true, "0.0.0.0:7788": false, "10.0.0.5:7788": false, ":7788": false,
	} {
		c := Control{Listen: addr}
		if err := c.validate(); (err == nil) != ok {
			t.Errorf("%s: err = %v, want ok=%v", addr, err, ok)
		}
	}
}
