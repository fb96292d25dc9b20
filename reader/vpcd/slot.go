package vpcd

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

var aLongTimeAgo = time.Unix(1, 0)

// State is what a Slot is doing, reported through Slot.OnChange.
type State int

// Slot states.
const (
	// Empty: no card presented (never, or after Remove or a tear).
	Empty State = iota
	// Connecting: a card is presented and the slot is dialling vpcd
	// (retrying with backoff while vpcd is not up).
	Connecting
	// InField: connected; pcscd sees the card.
	InField
	// Torn: the card failed mid-command; the connection was dropped and
	// the slot is empty until the next Present.
	Torn
)

// String names the state for logs.
func (s State) String() string {
	switch s {
	case Empty:
		return "empty"
	case Connecting:
		return "connecting"
	case InField:
		return "in-field"
	case Torn:
		return "torn"
	default:
		return "state(?)"
	}
}

// Backoff bounds the redial delays while vpcd is unreachable: doubling from
// Min to Max, each delay jittered into its upper half.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is used when a Slot has none: 50 ms doubling to 2 s.
var DefaultBackoff = Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}

func (b Backoff) delay(n int) time.Duration {
	if b.Min <= 0 || b.Max < b.Min {
		b = DefaultBackoff
	}
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(rand.Float64()*float64(d/2))
}

// Slot is the card side of one vpcd reader slot. Configure the fields,
// start Run in a goroutine, then Present and Remove cards at will. The
// zero value connects to DefaultAddr.
type Slot struct {
	// Addr is vpcd's host:port; empty means DefaultAddr.
	Addr string
	// Backoff paces redials; zero means DefaultBackoff.
	Backoff Backoff
	// Dial opens the connection; nil uses a net.Dialer over TCP.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Sleep waits d or until ctx is done; nil uses a timer. Tests inject one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives connection failures and tears; nil means slog.Default().
	Log *slog.Logger
	// OnChange, if set, is called (from Run's goroutine) on every state
	// change. It must not block or call back into the Slot.
	OnChange func(State)

	mu      sync.Mutex
	card    Card
	gen     uint64        // bumped by every Present, Remove and tear
	conn    net.Conn      // live connection, nil when none
	wake    chan struct{} // Present/Remove poke Run
	started bool
}

func (s *Slot) init() {
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
}

// Present taps card on the reader: Run connects to vpcd (the card enters
// the field). Presenting while another card is in the field replaces it:
// the old connection is closed first, so pcscd sees a removal.
func (s *Slot) Present(card Card) { s.set(card) }

// Remove takes the card away: the connection is closed and pcscd reports
// the card removed at its next poll.
func (s *Slot) Remove() { s.set(nil) }

// set puts card (nil: none) in the field, closing the connection of the
// card that was there.
func (s *Slot) set(card Card) {
	s.mu.Lock()
	s.init()
	s.card = card
	s.gen++
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Slot) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Slot) addr() string {
	if s.Addr == "" {
		return DefaultAddr
	}
	return s.Addr
}

func (s *Slot) notify(st State) {
	if s.OnChange != nil {
		s.OnChange(st)
	}
}

func (s *Slot) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Slot) dial(ctx context.Context) (net.Conn, error) {
	if s.Dial != nil {
		return s.Dial(ctx, s.addr())
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.addr())
}

// current returns the presented card and its generation.
func (s *Slot) current() (Card, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.card, s.gen
}

// Run keeps the slot's connection in step with the presented card until
// ctx is done, then closes it and returns nil. It redials with backoff
// while vpcd is not reachable and after pcscd drops the connection. Run
// must be called once per Slot.
func (s *Slot) Run(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	if s.started {
		s.mu.Unlock()
		return errors.New("vpcd: Slot.Run called twice")
	}
	s.started = true
	wake := s.wake
	s.mu.Unlock()
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("vpcd", s.addr())

	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		card, gen := s.current()
		if card == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			}
			continue
		}
		s.notify(Connecting)
		conn, err := s.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			d := s.Backoff.delay(failures)
			if failures == 1 || failures%20 == 0 {
				log.Info("vpcd not reachable, retrying", "err", err, "attempt", failures, "retry_in", d.Round(time.Millisecond))
			}
			if s.waitOrWake(ctx, wake, d) != nil {
				return nil
			}
			continue
		}
		s.mu.Lock()
		if s.gen != gen { // removed or replaced while dialling
			s.mu.Unlock()
			_ = conn.Close()
			continue
		}
		s.conn = conn
		s.mu.Unlock()
		failures = 0
		s.notify(InField)

		err = Serve(ctx, conn, card)
		_ = conn.Close()

		s.mu.Lock()
		s.conn = nil
		same := s.gen == gen
		torn := same && errors.Is(err, ErrTorn)
		if torn {
			s.card = nil
			s.gen++
		}
		s.mu.Unlock()
		switch {
		case ctx.Err() != nil:
			s.notify(Empty)
			return nil
		case torn:
			log.Info("card torn: connection dropped until the next tap", "err", err)
			s.notify(Torn)
		case !same:
			s.notify(Empty) // removed or replaced on purpose
		default:
			// vpcd (pcscd) closed the connection or the stream broke
			// while the card is still presented: dial again.
			failures++
			d := s.Backoff.delay(failures)
			log.Info("vpcd connection ended, redialling", "err", err, "retry_in", d.Round(time.Millisecond))
			if s.waitOrWake(ctx, wake, d) != nil {
				return nil
			}
		}
	}
}

// waitOrWake sleeps d, cut short by Present or Remove.
func (s *Slot) waitOrWake(ctx context.Context, wake <-chan struct{}, d time.Duration) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-wake:
			s.poke() // keep the poke for the main loop
			cancel()
		case <-sctx.Done():
		}
	}()
	err := s.sleep(sctx, d)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_ = err
	return nil
}
