package pn532

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.bug.st/serial"

	"github.com/openykt/yktd/reader"
)

// Timeouts bound the waits of the frame protocol. Zero fields take the
// defaults of DefaultTimeouts.
type Timeouts struct {
	ACK      time.Duration // command frame to the module's ACK
	Response time.Duration // ACK to the response, all commands but InDataExchange
	Exchange time.Duration // ACK to InDataExchange's response (the card's processing time)
	Idle     time.Duration // silence after which the wake-up preamble precedes a command
}

// DefaultTimeouts: a PN532 ACKs within a few milliseconds; an e-purse
// DEBIT takes a card up to a few hundred.
var DefaultTimeouts = Timeouts{ACK: 200 * time.Millisecond, Response: time.Second, Exchange: 3 * time.Second, Idle: time.Second}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	if t.ACK > 0 {
		d.ACK = t.ACK
	}
	if t.Response > 0 {
		d.Response = t.Response
	}
	if t.Exchange > 0 {
		d.Exchange = t.Exchange
	}
	if t.Idle > 0 {
		d.Idle = t.Idle
	}
	return d
}

// Options configure a Reader. The zero value works for a module on
// 115200 baud.
type Options struct {
	// Baud is the UART speed; 0 means 115200 (the PN532's HSU default).
	Baud int
	// Name is the reader's name in events and logs; "" means "pn532:<device>".
	Name string
	// PollInterval is the pause between two InListPassiveTarget polls
	// without a card, and between two presence checks of a card in the
	// field; 0 means 100 ms.
	PollInterval time.Duration
	// Timeouts bound the protocol's waits; zero fields take defaults.
	Timeouts Timeouts
	// Log receives protocol faults and recoveries; nil means slog.Default().
	Log *slog.Logger
	// Now stamps events and measures idle time; nil means time.Now.
	Now func() time.Time
	// Open opens the serial port; nil means serial.Open (go.bug.st/serial).
	Open func(path string, mode *serial.Mode) (serial.Port, error)
	// NewTimer starts the timers of the protocol's timeouts (Timeouts) and
	// returns the channel that fires at expiry and a stop function; nil
	// means time.NewTimer. Tests inject timers they fire themselves.
	NewTimer func(d time.Duration) (expired <-chan time.Time, stop func() bool)
}

func realTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Reader is a PN532 on a serial port, as a reader.Reader. Run opens the
// port, wakes and configures the module and polls for cards; each card it
// activates is announced with CardPresent and a *Card until CardRemoved.
type Reader struct {
	device string
	opts   Options
}

// New returns a Reader for the module on device (e.g. /dev/ttyUSB0 or a
// /dev/serial/by-id/ link). The port is opened by Run, so that a module
// plugged in later is found by reader.Manager's restarts.
func New(device string, opts Options) *Reader {
	if opts.Baud <= 0 {
		opts.Baud = 115200
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.Name == "" {
		opts.Name = "pn532:" + device
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Open == nil {
		opts.Open = serial.Open
	}
	if opts.NewTimer == nil {
		opts.NewTimer = realTimer
	}
	opts.Timeouts = opts.Timeouts.withDefaults()
	return &Reader{device: device, opts: opts}
}

func (r *Reader) log() *slog.Logger {
	if r.opts.Log != nil {
		return r.opts.Log
	}
	return slog.Default()
}

// Name returns the reader's name.
func (r *Reader) Name() string { return r.opts.Name }

// Firmware opens the port, wakes the module, asks GetFirmwareVersion and
// closes the port again: a check that the module answers, for tools such
// as `yktd reader list`. Do not call it while Run holds the port.
func (r *Reader) Firmware(ctx context.Context) (Firmware, error) {
	port, err := r.opts.Open(r.device, &serial.Mode{BaudRate: r.opts.Baud})
	if err != nil {
		return Firmware{}, fmt.Errorf("pn532: open %s: %w: %w", r.device, reader.ErrTransport, err)
	}
	l := newLink(port, r.device, r.opts, r.log())
	defer l.close()
	fw, err := l.firmware(ctx)
	if err != nil {
		return Firmware{}, fmt.Errorf("pn532: %s: %w", r.device, err)
	}
	return fw, nil
}

// maxPollFaults is how many protocol faults in a row (timeouts, garbled
// frames) Run tolerates before it gives up and lets its Manager reopen the
// port.
const maxPollFaults = 3

// Run opens the port and watches for cards until ctx is done (then it
// returns nil) or the port or module fails: an error wrapping
// reader.ErrTransport, after CardRemoved for a card it had announced.
func (r *Reader) Run(ctx context.Context, events chan<- reader.Event) error {
	port, err := r.opts.Open(r.device, &serial.Mode{BaudRate: r.opts.Baud})
	if err != nil {
		return fmt.Errorf("pn532: open %s: %w: %w", r.device, reader.ErrTransport, err)
	}
	if err := port.ResetInputBuffer(); err != nil {
		r.log().Debug("pn532: reset input buffer", "reader", r.Name(), "err", err)
	}
	l := newLink(port, r.device, r.opts, r.log())
	defer l.close()
	fw, err := r.setup(ctx, l)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return transport(fmt.Errorf("pn532: %s: setup: %w", r.device, err))
	}
	r.log().Info("pn532: module ready", "reader", r.Name(), "firmware", fw.String())

	var cur *Card
	defer func() {
		if cur != nil {
			cur.markGone()
			if ctx.Err() == nil {
				r.send(ctx, events, r.removed())
			}
		}
	}()
	faults := 0
	fault := func(err error) error {
		if ctx.Err() != nil {
			return nil
		}
		faults++
		select {
		case <-l.dead:
			return l.transportErr()
		default:
		}
		if faults >= maxPollFaults {
			return transport(fmt.Errorf("pn532: %s: %w", r.device, err))
		}
		r.log().Warn("pn532: poll failed", "reader", r.Name(), "err", err, "in_a_row", faults)
		return nil
	}
	for {
		if cur == nil {
			t, err := l.listTarget(ctx)
			if err != nil {
				if ferr := fault(err); ferr != nil || ctx.Err() != nil {
					return ferr
				}
			} else {
				faults = 0
			}
			if t != nil {
				cur = r.newCard(l, *t)
				ev := reader.Event{Reader: r.Name(), Kind: reader.CardPresent, Time: r.opts.Now(), Tech: cur.tech,
					ATR: cur.ATR(), UID: cur.UID(), Card: cur}
				if !r.send(ctx, events, ev) {
					return nil
				}
				continue
			}
			if !r.pause(ctx, l, nil) {
				return r.stopped(ctx, l)
			}
			continue
		}
		if !r.pause(ctx, l, cur.goneCh) {
			return r.stopped(ctx, l)
		}
		gone := cur.isGone()
		if !gone {
			ok, err := r.stillThere(ctx, l, cur)
			switch {
			case err != nil:
				if ferr := fault(err); ferr != nil || ctx.Err() != nil {
					return ferr
				}
				continue
			case !ok:
				cur.markGone()
				gone = true
			}
			faults = 0
		}
		if gone {
			if err := l.release(ctx, cur.target.Tg); err != nil && ctx.Err() == nil {
				r.log().Debug("pn532: release", "reader", r.Name(), "err", err)
			}
			cur = nil
			if !r.send(ctx, events, r.removed()) {
				return nil
			}
		}
	}
}

// setup wakes the module and puts it in normal mode with bounded retries.
func (r *Reader) setup(ctx context.Context, l *link) (Firmware, error) {
	fw, err := l.firmware(ctx)
	if err != nil {
		return Firmware{}, err
	}
	if fw.IC != 0x32 {
		return fw, fmt.Errorf("pn532: firmware reports IC 0x%02X, not a PN532: %w", fw.IC, ErrFrame)
	}
	if err := l.samConfiguration(ctx); err != nil {
		return fw, err
	}
	if err := l.setRetries(ctx, 0xFF, 0x01, passiveRetries); err != nil {
		return fw, err
	}
	return fw, nil
}

// stillThere checks that the card c is still in the field: Diagnose's
// presence test for an ISO 14443-4 card; for other cards (MIFARE Classic),
// which that test does not cover, releasing and listing it again and
// comparing the UID.
func (r *Reader) stillThere(ctx context.Context, l *link, c *Card) (bool, error) {
	if c.target.ISO14443_4() {
		return l.present(ctx)
	}
	if err := l.release(ctx, c.target.Tg); err != nil {
		return false, err
	}
	t, err := l.listTarget(ctx)
	if err != nil {
		return false, err
	}
	return t != nil && bytes.Equal(t.UID, c.target.UID), nil
}

// pause waits PollInterval, or until gone is closed; false when ctx ended
// or the link died.
func (r *Reader) pause(ctx context.Context, l *link, gone <-chan struct{}) bool {
	t := time.NewTimer(r.opts.PollInterval)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-gone:
		return true
	case <-ctx.Done():
		return false
	case <-l.dead:
		return false
	}
}

// stopped is Run's result after pause returned false.
func (r *Reader) stopped(ctx context.Context, l *link) error {
	if ctx.Err() != nil {
		return nil
	}
	return l.transportErr()
}

func (r *Reader) removed() reader.Event {
	return reader.Event{Reader: r.Name(), Kind: reader.CardRemoved, Time: r.opts.Now(), Tech: reader.TechISO14443A}
}

func (r *Reader) send(ctx context.Context, events chan<- reader.Event, ev reader.Event) bool {
	select {
	case events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// transport makes err wrap reader.ErrTransport (Run's failures must).
func transport(err error) error {
	if errors.Is(err, reader.ErrTransport) {
		return err
	}
	return fmt.Errorf("%w: %w", reader.ErrTransport, err)
}

var _ reader.Reader = (*Reader)(nil)
