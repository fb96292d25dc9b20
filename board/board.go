package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Board is the terminal's GPIO: named relays, inputs and indicators over one
// Pins backend. It is safe for concurrent use.
type Board struct {
	clock Clock
	log   *slog.Logger
	poll  time.Duration

	relays     map[string]*Relay
	inputs     map[string]*Input
	indicators map[string]*Indicator
	names      Names

	edges hub // every input's edges

	mu     sync.Mutex
	closed bool
}

// Names lists what a Board has, each kind in Spec order.
type Names struct {
	Relays     []string
	Inputs     []string
	Indicators []string
}

// New builds a Board: it looks every pin up first (any missing pin refuses
// the whole board, naming it), then drives every relay to its safe state and
// every indicator off, then configures the inputs and starts watching them.
func New(spec Spec, opts Options) (*Board, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if opts.Pins == nil {
		return nil, fmt.Errorf("%w: no Pins backend", ErrBadSpec)
	}
	b := &Board{
		clock:      opts.Clock,
		log:        opts.Logger,
		poll:       opts.Poll,
		relays:     map[string]*Relay{},
		inputs:     map[string]*Input{},
		indicators: map[string]*Indicator{},
		edges:      newHub(),
	}
	if b.clock == nil {
		b.clock = SystemClock{}
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if b.poll <= 0 {
		b.poll = 100 * time.Millisecond
	}
	for _, rs := range spec.Relays {
		p, err := opts.Pins.Pin(rs.Pin)
		if err != nil {
			return nil, fmt.Errorf("board: relay %q: %w", rs.Name, err)
		}
		b.relays[rs.Name] = newRelay(b, rs, p)
		b.names.Relays = append(b.names.Relays, rs.Name)
	}
	for _, is := range spec.Indicators {
		p, err := opts.Pins.Pin(is.Pin)
		if err != nil {
			return nil, fmt.Errorf("board: indicator %q: %w", is.Name, err)
		}
		b.indicators[is.Name] = &Indicator{b: b, spec: is, pin: p}
		b.names.Indicators = append(b.names.Indicators, is.Name)
	}
	for _, is := range spec.Inputs {
		p, err := opts.Pins.Pin(is.Pin)
		if err != nil {
			return nil, fmt.Errorf("board: input %q: %w", is.Name, err)
		}
		b.inputs[is.Name] = newInput(b, is, p)
		b.names.Inputs = append(b.names.Inputs, is.Name)
	}
	// Outputs to a known, safe level before anything else happens.
	for _, n := range b.names.Relays {
		if err := b.relays[n].Halt(); err != nil {
			return nil, err
		}
	}
	for _, n := range b.names.Indicators {
		if err := b.indicators[n].Off(); err != nil {
			b.haltOutputs()
			return nil, err
		}
	}
	var started []*Input
	for _, n := range b.names.Inputs {
		in := b.inputs[n]
		if err := in.start(); err != nil {
			for _, s := range started {
				s.stop()
			}
			b.haltOutputs()
			return nil, err
		}
		started = append(started, in)
	}
	return b, nil
}

// Relay returns the relay of that name; the error wraps ErrUnknown.
func (b *Board) Relay(name string) (*Relay, error) {
	if r, ok := b.relays[name]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("%w: relay %q (have %v)", ErrUnknown, name, b.names.Relays)
}

// Input returns the input of that name; the error wraps ErrUnknown.
func (b *Board) Input(name string) (*Input, error) {
	if in, ok := b.inputs[name]; ok {
		return in, nil
	}
	return nil, fmt.Errorf("%w: input %q (have %v)", ErrUnknown, name, b.names.Inputs)
}

// Indicator returns the indicator of that name; the error wraps ErrUnknown.
func (b *Board) Indicator(name string) (*Indicator, error) {
	if ind, ok := b.indicators[name]; ok {
		return ind, nil
	}
	return nil, fmt.Errorf("%w: indicator %q (have %v)", ErrUnknown, name, b.names.Indicators)
}

// Names lists the board's relays, inputs and indicators in Spec order.
func (b *Board) Names() Names {
	return Names{
		Relays:     append([]string(nil), b.names.Relays...),
		Inputs:     append([]string(nil), b.names.Inputs...),
		Indicators: append([]string(nil), b.names.Indicators...),
	}
}

// Watch returns the debounced edges of every input, in the order they were
// confirmed, until ctx is done or the board closes (then the channel is
// closed). The channel is buffered; a watcher that falls more than
// WatchBuffer edges behind loses the newest ones (logged as a warning).
func (b *Board) Watch(ctx context.Context) <-chan Edge {
	return b.edges.watch(ctx)
}

// Halt drives every relay to its safe state (ending pulses and holds) and
// every indicator off. The board stays usable.
func (b *Board) Halt() error {
	return b.haltOutputs()
}

func (b *Board) haltOutputs() error {
	var errs []error
	for _, n := range b.names.Relays {
		errs = append(errs, b.relays[n].Halt())
	}
	for _, n := range b.names.Indicators {
		errs = append(errs, b.indicators[n].Halt())
	}
	return errors.Join(errs...)
}

// Close halts the board (relays safe, indicators off), stops watching the
// inputs and closes every Watch channel. Later operations return ErrClosed,
// except Halt and Release, which still drive outputs safe. Close is
// idempotent.
func (b *Board) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	err := b.haltOutputs()
	for _, n := range b.names.Inputs {
		b.inputs[n].signalStop()
	}
	for _, n := range b.names.Inputs {
		b.inputs[n].finishStop()
	}
	b.edges.close()
	return err
}

func (b *Board) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// WatchBuffer is the capacity of a Watch channel.
const WatchBuffer = 64

// hub fans edges out to watchers.
type hub struct {
	mu     sync.Mutex
	subs   map[chan Edge]struct{}
	closed bool
}

func newHub() hub { return hub{subs: map[chan Edge]struct{}{}} }

func (h *hub) watch(ctx context.Context) <-chan Edge {
	ch := make(chan Edge, WatchBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch
	}
	h.subs[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	})
	return ch
}

// send delivers e to every watcher without blocking and returns how many
// watchers were full.
func (h *hub) send(e Edge) (dropped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			dropped++
		}
	}
	return dropped
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for ch := range h.subs {
		close(ch)
	}
	h.subs = nil
}
