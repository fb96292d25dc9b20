package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/openykt/yktd/reader/qrscan"
	"github.com/openykt/yktd/reader/wiegand"
)

// Reader drivers.
const (
	DriverPCSC    = "pcsc"    // PC/SC reader through pcscd
	DriverPN532   = "pn532"   // NXP PN532 NFC module on a UART
	DriverQRScan  = "qrscan"  // serial QR / barcode scanner, one code per line
	DriverWiegand = "wiegand" // Wiegand reader on two GPIO lines
	DriverSim     = "sim"     // virtual reader with virtual cards (rig, demo)
)

// Baud rates accepted for serial readers.
var baudRates = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// Reader is one credential reader. Which keys apply depends on Driver; a
// key set for a driver it does not apply to is refused (a wiegand pin on a
// QR scanner is a mistake, not a default).
//
//	key            drivers        meaning
//	name           all            name in logs, events and gate.readers_out; default the driver name
//	driver         all            pcsc, pn532, qrscan, wiegand or sim
//	match          pcsc           readers whose PC/SC name contains it ("" all)
//	backend        pcsc           pure (default: pcscd's socket), cgo (libpcsclite) or auto
//	device         pn532, qrscan  serial device, absolute path (prefer /dev/serial/by-id/...)
//	baud           pn532, qrscan  line speed; default 115200 (pn532), 9600 (qrscan)
//	poll           pn532          pause between polls for a card, 10ms..10s; default 100ms
//	terminator     qrscan         "\r" (default), "\n" or "\r\n" (also cr, lf, crlf)
//	prefix, suffix qrscan         stripped from codes that carry them
//	max_len        qrscan         longest code in bytes, 1..65536; default 2048
//	d0, d1         wiegand        the two data lines (periph pin names, e.g. "GPIO17")
//	formats        wiegand        frame formats accepted, by name: h10301 (26-bit), h10306 (34-bit)
//	                              or a [[reader.format]] of this reader; default: the
//	                              reader's own formats if it has any, else h10301 and h10306
//	format         wiegand        site-specific layouts, a table (see WiegandFormat)
//	bit_timeout    wiegand        silence that ends a frame, 2ms..500ms; default 25ms
type Reader struct {
	// Name identifies the reader in logs and events; default the driver name.
	Name string `toml:"name"`
	// Driver is pcsc, pn532, qrscan, wiegand or sim.
	Driver string `toml:"driver"`

	// PC/SC: Match selects readers whose name contains it (empty: all);
	// Backend is pure (default), cgo or auto.
	Match   string `toml:"match"`
	Backend string `toml:"backend"`

	// Serial (pn532, qrscan): device path and baud rate.
	Device string `toml:"device"`
	Baud   int    `toml:"baud"`

	// PN532: Poll is the pause between two polls for a card.
	Poll Duration `toml:"poll"`

	// QR scanner: how codes are framed on the line.
	Terminator string `toml:"terminator"`
	Prefix     string `toml:"prefix"`
	Suffix     string `toml:"suffix"`
	MaxLen     int    `toml:"max_len"`

	// Wiegand: the D0 and D1 GPIO pin names (periph names such as "GPIO17").
	D0 string `toml:"d0"`
	D1 string `toml:"d1"`
	// Formats names the accepted frame formats (see the table above).
	Formats []string `toml:"formats"`
	// FormatTable defines this reader's site-specific formats.
	FormatTable []WiegandFormat `toml:"format"`
	// BitTimeout is the silence that ends a Wiegand frame.
	BitTimeout Duration `toml:"bit_timeout"`
}

// WiegandFormat is a site-specific Wiegand frame layout ([[reader.format]]):
// an even parity bit over the first even_bits data bits, the data bits
// (facility code, then card number), an odd parity bit over the last
// odd_bits data bits. even_bits or odd_bits 0: no such parity bit.
type WiegandFormat struct {
	Name         string `toml:"name"`
	Bits         int    `toml:"bits"`          // frame length, parity included
	FacilityBits int    `toml:"facility_bits"` // leading data bits of the facility code
	EvenBits     int    `toml:"even_bits"`     // data bits covered by the leading even parity bit
	OddBits      int    `toml:"odd_bits"`      // data bits covered by the trailing odd parity bit
}

// Format converts the table entry to the driver's format.
func (w WiegandFormat) Format() wiegand.Format {
	return wiegand.Format{Name: w.Name, Bits: w.Bits, EvenBits: w.EvenBits, OddBits: w.OddBits, FacilityBits: w.FacilityBits}
}

func (r *Reader) defaults() {
	if r.Name == "" {
		r.Name = r.Driver
	}
}

// QRFraming returns the qrscan framing of a qrscan reader.
func (r *Reader) QRFraming() qrscan.Framing {
	return qrscan.Framing{Terminator: r.Terminator, Prefix: r.Prefix, Suffix: r.Suffix, MaxLen: r.MaxLen}
}

// WiegandFormats resolves the formats of a wiegand reader: the named ones
// in order, or the default set (see Reader). It fails, wrapping
// ErrInvalid, for an unknown name or an inconsistent layout.
func (r *Reader) WiegandFormats() ([]wiegand.Format, error) {
	own := map[string]wiegand.Format{}
	var table []wiegand.Format
	for i, w := range r.FormatTable {
		f := w.Format()
		if w.Name == "" {
			return nil, invalid("reader %q: format[%d]: name is required", r.Name, i)
		}
		if _, ok := wiegand.Builtin(w.Name); ok {
			return nil, invalid("reader %q: format %q: the name of a built-in format", r.Name, w.Name)
		}
		if _, dup := own[strings.ToLower(w.Name)]; dup {
			return nil, invalid("reader %q: format %q defined twice", r.Name, w.Name)
		}
		if err := f.Validate(); err != nil {
			return nil, invalid("reader %q: format %q: %v", r.Name, w.Name, err)
		}
		own[strings.ToLower(w.Name)] = f
		table = append(table, f)
	}
	if len(r.Formats) == 0 {
		if len(table) > 0 {
			return table, nil
		}
		return slices.Clone(wiegand.DefaultFormats), nil
	}
	var out []wiegand.Format
	seen := map[string]bool{}
	for _, name := range r.Formats {
		f, ok := wiegand.Builtin(name)
		if !ok {
			f, ok = own[strings.ToLower(name)]
		}
		if !ok {
			return nil, invalid("reader %q: formats: %q is neither h10301, h10306 nor a [[reader.format]] of this reader", r.Name, name)
		}
		if seen[f.Name] {
			return nil, invalid("reader %q: formats: %q listed twice", r.Name, name)
		}
		seen[f.Name] = true
		out = append(out, f)
	}
	return out, nil
}

// key is one driver-specific key and whether it is set.
type key struct {
	name    string
	set     bool
	drivers []string
}

func (r *Reader) keys() []key {
	serial := []string{DriverPN532, DriverQRScan}
	return []key{
		{"match", r.Match != "", []string{DriverPCSC}},
		{"backend", r.Backend != "", []string{DriverPCSC}},
		{"device", r.Device != "", serial},
		{"baud", r.Baud != 0, serial},
		{"poll", r.Poll != 0, []string{DriverPN532}},
		{"terminator", r.Terminator != "", []string{DriverQRScan}},
		{"prefix", r.Prefix != "", []string{DriverQRScan}},
		{"suffix", r.Suffix != "", []string{DriverQRScan}},
		{"max_len", r.MaxLen != 0, []string{DriverQRScan}},
		{"d0", r.D0 != "", []string{DriverWiegand}},
		{"d1", r.D1 != "", []string{DriverWiegand}},
		{"formats", r.Formats != nil, []string{DriverWiegand}},
		{"format", r.FormatTable != nil, []string{DriverWiegand}},
		{"bit_timeout", r.BitTimeout != 0, []string{DriverWiegand}},
	}
}

func (r *Reader) validate() error {
	switch r.Driver {
	case DriverPCSC, DriverPN532, DriverQRScan, DriverWiegand, DriverSim:
	default:
		return invalid("reader %q: driver %q: want pcsc, pn532, qrscan, wiegand or sim", r.Name, r.Driver)
	}
	if strings.TrimSpace(r.Name) != r.Name || strings.ContainsAny(r.Name, "\x00\r\n\t") {
		return invalid("reader %q: name: no leading or trailing spaces, no control characters", r.Name)
	}
	for _, k := range r.keys() {
		if k.set && !slices.Contains(k.drivers, r.Driver) {
			return invalid("reader %q: %s applies to driver %s only, not %s", r.Name, k.name, strings.Join(k.drivers, ", "), r.Driver)
		}
	}
	switch r.Driver {
	case DriverPCSC:
		switch r.Backend {
		case "", "auto", "pure", "cgo":
		default:
			return invalid("reader %q: backend %q: want pure, cgo or auto", r.Name, r.Backend)
		}
	case DriverPN532, DriverQRScan:
		if err := r.validateSerial(); err != nil {
			return err
		}
		if r.Driver == DriverPN532 && r.Poll != 0 && (r.Poll.D() < 10*time.Millisecond || r.Poll.D() > 10*time.Second) {
			return invalid("reader %q: poll %s: want 10ms..10s", r.Name, r.Poll.D())
		}
		if r.Driver == DriverQRScan {
			if r.MaxLen < 0 || r.MaxLen > qrscan.LimitMaxLen {
				return invalid("reader %q: max_len %d: want 1..%d", r.Name, r.MaxLen, qrscan.LimitMaxLen)
			}
			if err := r.QRFraming().Validate(); err != nil {
				return invalid("reader %q: %v", r.Name, err)
			}
		}
	case DriverWiegand:
		if r.D0 == "" || r.D1 == "" {
			return invalid("reader %q: d0 and d1 pins are required for driver wiegand", r.Name)
		}
		if r.D0 == r.D1 {
			return invalid("reader %q: d0 and d1 are the same pin %q", r.Name, r.D0)
		}
		if r.BitTimeout != 0 && (r.BitTimeout.D() < 2*time.Millisecond || r.BitTimeout.D() > 500*time.Millisecond) {
			return invalid("reader %q: bit_timeout %s: want 2ms..500ms", r.Name, r.BitTimeout.D())
		}
		if _, err := r.WiegandFormats(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) validateSerial() error {
	if r.Device == "" {
		return invalid("reader %q: device is required for driver %s", r.Name, r.Driver)
	}
	if !filepath.IsAbs(r.Device) {
		return invalid("reader %q: device %q: want an absolute path such as /dev/ttyUSB0", r.Name, r.Device)
	}
	if r.Baud != 0 && !slices.Contains(baudRates, r.Baud) {
		return invalid("reader %q: baud %d: want one of %s", r.Name, r.Baud, fmt.Sprint(baudRates))
	}
	return nil
}
