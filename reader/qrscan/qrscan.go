// Package qrscan reads serial QR and barcode scanners (USB-serial or a UART
// of the board) that send one code per line, and reports each code once as
// a reader.TextCredential event.
//
// LineReader is the pure framing part (terminator, prefix and suffix,
// maximum length, garbage rejection) over any io.Reader; Reader opens the
// port with go.bug.st/serial and runs a LineReader on it. Codes can be
// tokens (the campus QR code): they are never logged, only their length.
package qrscan

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/openykt/yktd/reader"
)

// DefaultBaud is the baud rate when Options.Baud is zero: the factory
// setting of most serial scanners.
const DefaultBaud = 9600

// Options configure a Reader.
type Options struct {
	// Name is the reader's name in logs and events; "" means
	// "qrscan:<device>".
	Name string
	// Baud is the line speed (8N1); zero means DefaultBaud.
	Baud int
	// Framing says how codes end and what to strip.
	Framing
	// Open opens the port; nil means serial.Open. Tests wrap it.
	Open func(device string, mode *serial.Mode) (serial.Port, error)
	// Now stamps events; nil means time.Now.
	Now func() time.Time
	// Log receives discarded lines; nil means slog.Default().
	Log *slog.Logger
}

// Reader is a serial code scanner; it implements reader.Reader. Run at most
// one Run at a time (as reader.Manager does): the port is opened
// exclusively.
type Reader struct {
	device string
	opts   Options
	c      counters
}

// New returns a Reader for the serial device at path device (a
// /dev/serial/by-id/... link survives re-enumeration). Framing mistakes
// show at Run; check them first with opts.Framing.Validate.
func New(device string, opts Options) *Reader {
	if opts.Name == "" {
		opts.Name = "qrscan:" + device
	}
	if opts.Baud <= 0 {
		opts.Baud = DefaultBaud
	}
	if opts.Open == nil {
		opts.Open = serial.Open
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Reader{device: device, opts: opts}
}

// Name returns the reader's name.
func (r *Reader) Name() string { return r.opts.Name }

// Device returns the serial device path.
func (r *Reader) Device() string { return r.device }

// Stats returns the counters over every Run so far.
func (r *Reader) Stats() Stats { return r.c.stats() }

// open opens and sets up the port; errors wrap reader.ErrTransport.
func (r *Reader) open() (serial.Port, error) {
	if err := r.opts.Framing.Validate(); err != nil {
		return nil, fmt.Errorf("qrscan: %s: %w", r.device, err)
	}
	mode := &serial.Mode{BaudRate: r.opts.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	port, err := r.opts.Open(r.device, mode)
	if err != nil {
		return nil, fmt.Errorf("qrscan: open %s: %w: %w", r.device, reader.ErrTransport, err)
	}
	return port, nil
}

// Probe opens the port and closes it again: it tells a technician whether
// the scanner is there. Its errors wrap reader.ErrTransport, or ErrFraming
// for bad options.
func (r *Reader) Probe() error {
	port, err := r.open()
	if err != nil {
		return err
	}
	if err := port.Close(); err != nil {
		return fmt.Errorf("qrscan: close %s: %w: %w", r.device, reader.ErrTransport, err)
	}
	return nil
}

// Run opens the port, discards what was queued before (a code scanned
// while nobody listened is stale), and sends every code read as a
// TextCredential until ctx is done (it returns nil) or the port fails or
// disappears (an error wrapping reader.ErrTransport: reader.Manager
// restarts it with backoff). Cancelling ctx closes the port, which ends a
// pending read at once.
func (r *Reader) Run(ctx context.Context, events chan<- reader.Event) error {
	port, err := r.open()
	if err != nil {
		return err
	}
	var once sync.Once
	closePort := func() { once.Do(func() { port.Close() }) }
	defer closePort()
	stop := context.AfterFunc(ctx, closePort)
	defer stop()
	if err := port.ResetInputBuffer(); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("qrscan: %s: flush input: %w: %w", r.device, reader.ErrTransport, err)
	}
	lr := newLineReader(port, r.opts.Framing, r.opts.Log.With("reader", r.opts.Name), &r.c)
	for {
		code, err := lr.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("qrscan: %s: read: %w: %w", r.device, reader.ErrTransport, err)
		}
		ev := reader.Event{Reader: r.opts.Name, Kind: reader.TextCredential, Time: r.opts.Now(), Tech: reader.TechQR, Text: code}
		select {
		case events <- ev:
		case <-ctx.Done():
			return nil
		}
	}
}
