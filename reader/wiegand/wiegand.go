// Package wiegand reads Wiegand card readers and keypads wired to two GPIO
// inputs of the board: a pulse (active low, 50–100 µs) on D0 is a 0 bit, on
// D1 a 1 bit, and a silence longer than the bit timeout ends the frame.
//
// Decode and DecodeAny check the parity of a frame and split it into
// facility code and card number by a Format (H10301 26-bit, H10306 34-bit
// or a site-specific layout); Reader watches the pins through periph.io and
// sends each good frame as a reader.NumberCredential event. Frames with bad
// parity or a length no format has are logged, counted and dropped.
//
// Wiegand numbers identify a holder; they are for gates only, never for
// money.
package wiegand

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/openykt/yktd/reader"
)

// Defaults of Options.
const (
	// DefaultBitTimeout is the silence that ends a frame: readers send bits
	// 1–2 ms apart and frames tens of milliseconds apart.
	DefaultBitTimeout = 25 * time.Millisecond
	// DefaultPoll is how long one WaitForEdge call waits before the
	// watcher looks at its context again.
	DefaultPoll = 100 * time.Millisecond
)

// Options configure a Reader. The zero value decodes DefaultFormats with
// DefaultBitTimeout.
type Options struct {
	// Name is the reader's name in logs and events; "" means
	// "wiegand:<d0>/<d1>" with the pin names.
	Name string
	// Formats are the frame layouts accepted; nil means DefaultFormats.
	// When two formats have the same length, the first whose parity
	// matches decodes the frame.
	Formats []Format
	// BitTimeout is the silence that ends a frame; zero means
	// DefaultBitTimeout.
	BitTimeout time.Duration
	// Poll bounds each WaitForEdge call; zero means DefaultPoll.
	Poll time.Duration
	// After returns a channel that receives once d has passed; nil means
	// time.After. Tests inject a fake to end frames without waiting.
	After func(d time.Duration) <-chan time.Time
	// Now stamps events; nil means time.Now.
	Now func() time.Time
	// Log receives dropped frames; nil means slog.Default().
	Log *slog.Logger
}

// noiseBits: a frame shorter than this is line noise, not a cut frame.
const noiseBits = 4

// Stats counts the frames a Reader saw since it was made.
type Stats struct {
	Delivered uint64 // frames decoded and sent as events
	BadParity uint64 // frames of a known length with a wrong parity bit
	BadLength uint64 // frames of a length no format has (cut short, noise, too long)
}

// Reader is a Wiegand reader on two GPIO inputs; it implements
// reader.Reader. Run at most one Run at a time (as reader.Manager does).
type Reader struct {
	d0, d1  gpio.PinIn
	opts    Options
	maxBits int

	delivered, badParity, badLength atomic.Uint64
}

// New returns a Reader on the pins d0 and d1. It fails when a format is
// inconsistent (the error wraps ErrFormat).
func New(d0, d1 gpio.PinIn, opts Options) (*Reader, error) {
	if opts.Formats == nil {
		opts.Formats = DefaultFormats
	}
	if len(opts.Formats) == 0 {
		return nil, fmt.Errorf("%w: no formats", ErrFormat)
	}
	r := &Reader{d0: d0, d1: d1, opts: opts}
	for _, f := range opts.Formats {
		if err := f.Validate(); err != nil {
			return nil, err
		}
		r.maxBits = max(r.maxBits, f.Bits)
	}
	if r.opts.BitTimeout <= 0 {
		r.opts.BitTimeout = DefaultBitTimeout
	}
	if r.opts.Poll <= 0 {
		r.opts.Poll = DefaultPoll
	}
	if r.opts.After == nil {
		r.opts.After = time.After
	}
	if r.opts.Now == nil {
		r.opts.Now = time.Now
	}
	if r.opts.Log == nil {
		r.opts.Log = slog.Default()
	}
	if r.opts.Name == "" {
		r.opts.Name = "wiegand:" + d0.Name() + "/" + d1.Name()
	}
	return r, nil
}

// Name returns the reader's name.
func (r *Reader) Name() string { return r.opts.Name }

// Stats returns the frame counters.
func (r *Reader) Stats() Stats {
	return Stats{Delivered: r.delivered.Load(), BadParity: r.badParity.Load(), BadLength: r.badLength.Load()}
}

// Probe sets both pins up as inputs with pull-ups and no edge detection: it
// fails, wrapping reader.ErrTransport, when a pin cannot be used. Call it
// before Run, not while Run runs (it turns edge detection off).
func (r *Reader) Probe() error {
	for _, p := range r.pins() {
		if err := p.pin.In(gpio.PullUp, gpio.NoEdge); err != nil {
			return fmt.Errorf("wiegand: %s pin %s: %w: %w", p.line, p.pin, reader.ErrTransport, err)
		}
	}
	return nil
}

type line struct {
	pin  gpio.PinIn
	line string
	bit  bool
}

func (r *Reader) pins() []line {
	return []line{{r.d0, "d0", false}, {r.d1, "d1", true}}
}

// Run watches the pins until ctx is done (it returns nil) or a pin cannot
// be set up for edge detection (an error wrapping reader.ErrTransport). A
// frame not finished when ctx ends is dropped. When Run returns, edge
// detection is off.
func (r *Reader) Run(ctx context.Context, events chan<- reader.Event) error {
	lines := r.pins()
	for _, l := range lines {
		if err := l.pin.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			r.quiet()
			return fmt.Errorf("wiegand: %s pin %s: edge detection: %w: %w", l.line, l.pin, reader.ErrTransport, err)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	bits := make(chan bool)
	var wg sync.WaitGroup
	for _, l := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.watch(wctx, l, bits)
		}()
	}
	defer func() {
		cancel()
		r.quiet() // wakes the watchers in WaitForEdge
		wg.Wait()
	}()

	frame := make([]bool, 0, r.maxBits)
	received := 0 // bits of the current frame; maxBits+1 means too long
	var end <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-bits:
			// The silence may have ended the frame while this bit was
			// on its way: the timer wins over the bit.
			select {
			case <-end:
				if !r.frame(ctx, events, frame, received) {
					return nil
				}
				frame, received = frame[:0], 0
			default:
			}
			if received < r.maxBits {
				frame = append(frame, b)
			}
			if received <= r.maxBits { // saturates: a frame of noise never overflows it
				received++
			}
			end = r.opts.After(r.opts.BitTimeout)
		case <-end:
			if !r.frame(ctx, events, frame, received) {
				return nil
			}
			frame, received, end = frame[:0], 0, nil
		}
	}
}

// quiet turns edge detection off, which also makes a pending WaitForEdge
// return.
func (r *Reader) quiet() {
	for _, l := range r.pins() {
		_ = l.pin.In(gpio.PullUp, gpio.NoEdge)
	}
}

// watch forwards the falling edges of one line as bits until ctx is done.
func (r *Reader) watch(ctx context.Context, l line, bits chan<- bool) {
	for ctx.Err() == nil {
		if !l.pin.WaitForEdge(r.opts.Poll) {
			continue
		}
		select {
		case bits <- l.bit:
		case <-ctx.Done():
			return
		}
	}
}

// frame decodes one finished frame and sends it; it returns false when ctx
// ended while sending.
func (r *Reader) frame(ctx context.Context, events chan<- reader.Event, frame []bool, received int) bool {
	log := r.opts.Log.With("reader", r.opts.Name, "bits", received)
	if received > len(frame) {
		r.badLength.Add(1)
		log.Warn("wiegand: frame dropped: longer than any format", "max_bits", r.maxBits)
		return true
	}
	if received < noiseBits {
		// A glitch on a line (a relay switching nearby), not a card:
		// counted, logged at debug level only so it cannot flood the log.
		r.badLength.Add(1)
		log.Debug("wiegand: line noise dropped")
		return true
	}
	c, err := DecodeAny(frame, r.opts.Formats)
	if err != nil {
		// The frame's bits are a credential: log the failure, not the bits.
		if errors.Is(err, ErrParity) {
			r.badParity.Add(1)
		} else {
			r.badLength.Add(1)
		}
		log.Warn("wiegand: frame dropped", "err", err)
		return true
	}
	ev := reader.Event{
		Reader: r.opts.Name,
		Kind:   reader.NumberCredential,
		Time:   r.opts.Now(),
		Tech:   reader.TechWiegand,
		Number: c.Number(),
		Bits:   c.Bits,
	}
	r.delivered.Add(1) // before the send: a receiver reading Stats sees it
	select {
	case events <- ev:
		return true
	case <-ctx.Done():
		r.delivered.Add(^uint64(0))
		return false
	}
}
