// Package readers builds the credential readers a device configuration
// lists ([[reader]] tables of terminal/config) into reader.Reader values
// for reader.Manager: PC/SC, PN532, serial QR scanners, Wiegand inputs and
// virtual readers. It also probes them (does the device open?) and
// describes them for technicians' tools.
package readers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.bug.st/serial"
	"periph.io/x/conn/v3/gpio"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/reader/pn532"
	"github.com/openykt/yktd/reader/qrscan"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/wiegand"
	"github.com/openykt/yktd/terminal/config"
)

// pn532DefaultBaud is the PN532's HSU speed, the default of pn532.New.
const pn532DefaultBaud = 115200

// ErrNoPin: a Wiegand reader names a GPIO pin the board does not have.
var ErrNoPin = errors.New("readers: no such GPIO pin")

// Options are the hooks and shared settings of Build.
type Options struct {
	// Log is given to every driver; nil means slog.Default().
	Log *slog.Logger
	// Now stamps events; nil means time.Now.
	Now func() time.Time
	// Pin resolves a GPIO pin name for Wiegand readers; nil initialises
	// periph.io's host drivers once and looks the name up in gpioreg.
	Pin func(name string) (gpio.PinIn, error)
	// SerialOpen opens serial ports (pn532, qrscan); nil means serial.Open.
	SerialOpen func(device string, mode *serial.Mode) (serial.Port, error)
	// PCSCSocket is pcscd's socket for the pure backend; "" means the
	// default (see pcsc.SocketPath).
	PCSCSocket string
}

func (o Options) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

func (o Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

func (o Options) open() func(string, *serial.Mode) (serial.Port, error) {
	if o.SerialOpen != nil {
		return o.SerialOpen
	}
	return serial.Open
}

// Build makes one reader per configured reader, in order. It stops at the
// first reader it cannot make (an unknown pin, a backend not built in) with
// an error naming it. The configuration is expected to be validated
// (config.Load does); Build checks again what it relies on.
func Build(cfg []config.Reader, opts Options) ([]reader.Reader, error) {
	out := make([]reader.Reader, 0, len(cfg))
	for _, c := range cfg {
		r, err := BuildOne(c, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// BuildOne makes the reader of one [[reader]] table. Events of the readers
// it makes carry the configured name as Event.Reader (a PC/SC reader with
// an empty match covers several readers and keeps their PC/SC names).
func BuildOne(c config.Reader, opts Options) (reader.Reader, error) {
	r, err := build(c, opts)
	if err != nil {
		return nil, fmt.Errorf("readers: reader %q (%s): %w", c.Name, c.Driver, err)
	}
	return r, nil
}

func build(c config.Reader, opts Options) (reader.Reader, error) {
	switch c.Driver {
	case config.DriverPCSC:
		return newPCSC(c, opts)
	case config.DriverPN532:
		if c.Device == "" {
			return nil, errors.New("no device")
		}
		baud := c.Baud
		if baud == 0 {
			baud = pn532DefaultBaud
		}
		r := pn532.New(c.Device, pn532.Options{
			Name: c.Name, Baud: baud, PollInterval: c.Poll.D(),
			Log: opts.log(), Now: opts.now(), Open: opts.open(),
		})
		return &pn532Reader{Reader: r, device: c.Device, baud: baud, open: opts.open()}, nil
	case config.DriverQRScan:
		if c.Device == "" {
			return nil, errors.New("no device")
		}
		fr := c.QRFraming()
		if err := fr.Validate(); err != nil {
			return nil, err
		}
		return qrscan.New(c.Device, qrscan.Options{
			Name: c.Name, Baud: c.Baud, Framing: fr,
			Open: opts.open(), Now: opts.now(), Log: opts.log(),
		}), nil
	case config.DriverWiegand:
		return newWiegand(c, opts)
	case config.DriverSim:
		return sim.NewReader(c.Name, reader.TechISO14443A), nil
	}
	return nil, fmt.Errorf("driver %q not built in", c.Driver)
}

func newWiegand(c config.Reader, opts Options) (reader.Reader, error) {
	formats, err := c.WiegandFormats()
	if err != nil {
		return nil, err
	}
	lookup := opts.Pin
	if lookup == nil {
		lookup = hostPin
	}
	var pins [2]gpio.PinIn
	for i, name := range []string{c.D0, c.D1} {
		line := [2]string{"d0", "d1"}[i]
		if name == "" {
			return nil, fmt.Errorf("%w: %s is not set", ErrNoPin, line)
		}
		p, err := lookup(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", line, err)
		}
		pins[i] = p
	}
	return wiegand.New(pins[0], pins[1], wiegand.Options{
		Name: c.Name, Formats: formats, BitTimeout: c.BitTimeout.D(),
		Now: opts.now(), Log: opts.log(),
	})
}

// pn532Reader adds Probe to the PN532 driver.
type pn532Reader struct {
	*pn532.Reader
	device string
	baud   int
	open   func(string, *serial.Mode) (serial.Port, error)
}

// Probe opens the module's serial port and closes it again.
func (r *pn532Reader) Probe(context.Context) error {
	p, err := r.open(r.device, &serial.Mode{BaudRate: r.baud})
	if err != nil {
		return fmt.Errorf("pn532: open %s: %w: %w", r.device, reader.ErrTransport, err)
	}
	return p.Close()
}

// Probe tells whether a reader Build made can open its device now: the
// serial port opens, the GPIO pins take the input mode, pcscd answers and
// knows a matching reader. A virtual reader always opens. It does not talk
// to the device beyond that.
func Probe(ctx context.Context, r reader.Reader) error {
	switch r := r.(type) {
	case interface{ Probe(context.Context) error }:
		return r.Probe(ctx)
	case interface{ Probe() error }:
		return r.Probe()
	}
	return nil
}

// Describe says where a configured reader is, for listings:
// "device=/dev/ttyS2 baud=9600", "d0=GPIO17 d1=GPIO27 formats=h10301,h10306".
func Describe(c config.Reader) string {
	switch c.Driver {
	case config.DriverPCSC:
		b := c.Backend
		if b == "" {
			b = string(pcsc.Pure)
		}
		if c.Match == "" {
			return "all PC/SC readers backend=" + b
		}
		return fmt.Sprintf("match=%q backend=%s", c.Match, b)
	case config.DriverPN532, config.DriverQRScan:
		baud := c.Baud
		if baud == 0 && c.Driver == config.DriverQRScan {
			baud = qrscan.DefaultBaud
		} else if baud == 0 {
			baud = pn532DefaultBaud
		}
		return fmt.Sprintf("device=%s baud=%d", c.Device, baud)
	case config.DriverWiegand:
		s := fmt.Sprintf("d0=%s d1=%s", c.D0, c.D1)
		if fs, err := c.WiegandFormats(); err == nil {
			names := make([]string, len(fs))
			for i, f := range fs {
				names[i] = f.Name
			}
			s += " formats=" + strings.Join(names, ",")
		}
		return s
	case config.DriverSim:
		return "virtual"
	}
	return ""
}
