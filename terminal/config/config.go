// Package config reads the device configuration file of yktd: one TOML file
// that says what this terminal is (a POS, a gate or a 圈存 kiosk),
// where its store lives, which readers and board pins it has, and how it
// syncs.
//
// The file is written by the technician at provisioning; rules that campus
// operations change (prices, limits, access groups) come signed from the
// ledger instead and only have local defaults here. Unknown keys are refused:
// a typo in a pin name must stop the daemon at start, not leave a relay
// unconfigured. See docs/config.md and testdata/config/example.toml.
//
// Each section lives in its own file (device.go, readers.go, board.go, pos.go,
// gate.go, kiosk.go, sync.go); Load decodes the whole file and validates every section.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// MaxSize is the largest configuration file Load accepts.
const MaxSize = 1 << 20

// ErrInvalid marks a configuration that decoded but breaks a rule (a missing
// device id, a relay without a pin, a pulse shorter than 100 ms...).
var ErrInvalid = errors.New("config: invalid")

// Config is the whole device configuration.
type Config struct {
	Device  Device   `toml:"device"`
	Readers []Reader `toml:"reader"`
	Board   Board    `toml:"board"`
	POS     POS      `toml:"pos"`
	Gate    Gate     `toml:"gate"`
	Kiosk   Kiosk    `toml:"kiosk"`
	Sync    Sync     `toml:"sync"`
	Control Control  `toml:"control"`
}

// Duration is a time.Duration written as a Go duration string ("150ms", "5s").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxSize)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a configuration from TOML text. Defaults are
// filled in before validation.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("config: larger than %d bytes", MaxSize)
	}
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%w: unknown keys: %s", ErrInvalid, strings.Join(keys, ", "))
	}
	c.defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) defaults() {
	c.Device.defaults()
	for i := range c.Readers {
		c.Readers[i].defaults()
	}
	c.Board.defaults()
	c.POS.defaults()
	c.Gate.defaults()
	c.Kiosk.Defaults()
	c.Sync.defaults()
	c.Control.defaults()
}

// Validate checks every section and the references between them (a gate's
// relay names must exist on the board). It returns an error wrapping
// ErrInvalid that names the first offending key.
func (c *Config) Validate() error {
	checks := []func() error{
		c.Device.validate,
		func() error {
			seen := map[string]bool{}
			for i := range c.Readers {
				r := &c.Readers[i]
				if err := r.validate(); err != nil {
					return fmt.Errorf("reader[%d]: %w", i, err)
				}
				if seen[r.Name] {
					return invalid("reader[%d].name: %q used twice", i, r.Name)
				}
				seen[r.Name] = true
			}
			return nil
		},
		c.Board.validate,
		func() error { return c.POS.validate(c.Device.Kind) },
		func() error { return c.Gate.validate(c.Device.Kind, &c.Board) },
		c.Kiosk.Validate,
		c.Sync.validate,
		c.Control.validate,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			if !errors.Is(err, ErrInvalid) {
				err = fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			return err
		}
	}
	return nil
}

// invalid formats an error wrapping ErrInvalid.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}
