package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/openykt/yktd/reader"
)

// Presentable is a virtual card a Reader can hold: sim.Card and
// sim.PSAMCard (the card-side contract of the vpcd bridge).
type Presentable interface {
	ATR() []byte
	Reset()
	Respond(cmd []byte) ([]byte, error)
}

// exchanger is implemented by this package's cards: Respond without the
// latency sleep, which the Reader spends with its own Sleep and context.
type exchanger interface {
	exchange(cmd []byte) ([]byte, time.Duration, error)
}

// Reader is a virtual reader (reader.Reader) presenting virtual cards. Tap
// puts a card in the field (and keeps it there until Remove, another Tap or
// a tear); Run reports CardPresent and CardRemoved events in order, with a
// reader.Card whose Transmit goes to the card. After the card left (Remove,
// or a tear fault fired) that handle's Transmit returns an error wrapping
// reader.ErrCardRemoved; a new Tap gives a new handle.
//
// Events queue while Run is not running and are delivered when it runs;
// run one Run at a time (as reader.Manager does).
type Reader struct {
	name string
	tech reader.Technology

	// Sleep spends a Latency fault's delay or returns ctx's error early;
	// nil uses a timer. Tests inject a fake so that they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps events; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cur   *presence
	queue []reader.Event
	wake  chan struct{}
}

type presence struct {
	r    *Reader
	card Presentable
	gone bool
}

// NewReader returns an empty reader. tech is reported in CardPresent
// events (reader.TechISO14443A for an RF reader, reader.TechContact for a
// SAM slot).
func NewReader(name string, tech reader.Technology) *Reader {
	return &Reader{name: name, tech: tech, wake: make(chan struct{}, 1)}
}

// Name returns the reader's name.
func (r *Reader) Name() string { return r.name }

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reader) push(e reader.Event) {
	r.queue = append(r.queue, e)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Tap powers card up in the field (Reset) and queues CardPresent; a card
// already there is removed first.
func (r *Reader) Tap(card Presentable) {
	card.Reset()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked()
	p := &presence{r: r, card: card}
	r.cur = p
	e := reader.Event{Reader: r.name, Kind: reader.CardPresent, Time: r.now(), Tech: r.tech, ATR: card.ATR(), Card: p}
	if u, ok := card.(interface{ UID() []byte }); ok {
		e.UID = u.UID()
	}
	r.push(e)
}

// Remove takes the card out of the field (no-op when empty).
func (r *Reader) Remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked()
}

func (r *Reader) removeLocked() {
	if r.cur == nil {
		return
	}
	r.cur.gone = true
	r.cur = nil
	r.push(reader.Event{Reader: r.name, Kind: reader.CardRemoved, Time: r.now(), Tech: r.tech})
}

// Card returns the card in the field, or nil.
func (r *Reader) Card() Presentable {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return nil
	}
	return r.cur.card
}

// Run delivers the queued events until ctx is done; it returns nil then.
func (r *Reader) Run(ctx context.Context, events chan<- reader.Event) error {
	for {
		r.mu.Lock()
		q := r.queue
		r.queue = nil
		r.mu.Unlock()
		for i, e := range q {
			select {
			case events <- e:
			case <-ctx.Done():
				r.mu.Lock()
				r.queue = append(q[i:], r.queue...)
				r.mu.Unlock()
				return nil
			}
		}
		select {
		case <-r.wake:
		case <-ctx.Done():
			return nil
		}
	}
}

// Transmit sends one APDU to the card if it is still in the field.
func (p *presence) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	r := p.r
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sim: %s: %w: %w", r.name, reader.ErrTimeout, err)
	}
	r.mu.Lock()
	gone := p.gone
	r.mu.Unlock()
	if gone {
		return nil, fmt.Errorf("sim: %s: %w", r.name, reader.ErrCardRemoved)
	}
	var (
		resp  []byte
		delay time.Duration
		err   error
	)
	if x, ok := p.card.(exchanger); ok {
		resp, delay, err = x.exchange(cmd)
	} else {
		resp, err = p.card.Respond(cmd)
	}
	if err != nil {
		r.mu.Lock()
		if r.cur == p {
			r.removeLocked()
		}
		p.gone = true
		r.mu.Unlock()
		return nil, fmt.Errorf("sim: %s: %w: %w", r.name, reader.ErrCardRemoved, err)
	}
	if delay > 0 {
		sleep := r.Sleep
		if sleep == nil {
			sleep = reader.SleepContext
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("sim: %s: %w: %w", r.name, reader.ErrTimeout, err)
		}
	}
	return resp, nil
}
