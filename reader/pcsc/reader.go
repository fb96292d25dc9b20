package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/openykt/yktd/reader"
)

// Options configure Reader and ListReaders. The zero value uses the Auto
// backend and the default socket.
type Options struct {
	// Backend chooses cgo (libpcsclite) or the pure-Go client; "" is Auto.
	Backend Backend
	// Socket is pcscd's socket for the pure-Go backend; "" means
	// SocketPath() ($PCSCLITE_CSOCK_NAME or DefaultSocket).
	Socket string
	// Log receives taps that could not be read; nil means slog.Default().
	Log *slog.Logger
	// Now stamps events; nil means time.Now.
	Now func() time.Time
	// RemovalGrace: see DefaultRemovalGrace; zero means that value.
	RemovalGrace time.Duration
}

// Reader watches PC/SC readers through pcscd and implements reader.Reader.
//
// One Reader covers every reader whose PC/SC name starts with its match
// string ("" matches all readers), including readers plugged in later
// (hot-plug through pcscd's reader list): events carry the actual reader,
// "pcsc:<reader name>". A terminal with an RF reader and a PSAM slot runs
// one Reader per role ("ACS ACR1281U 00 00" and "... 00 01"); technicians'
// tools run one Reader for everything.
//
// For each card that enters a matching reader, Run connects (shared mode,
// T=0|T=1), asks the reader for the UID (FF CA 00 00 00), guesses the
// technology from the ATR and sends CardPresent with a *Card; when the card
// leaves (or its reader is unplugged, or pcscd fails and Run returns an
// error) it sends CardRemoved and closes the Card, whose Transmit then fails
// with reader.ErrCardRemoved.
type Reader struct {
	match string
	opts  Options
	be    backend
}

// NewReader returns a Reader for the readers whose name starts with match
// ("" for all). It fails only for an unknown or unavailable backend; pcscd
// need not be running yet.
func NewReader(match string, opts Options) (*Reader, error) {
	be, err := newBackend(opts.Backend, opts.Socket)
	if err != nil {
		return nil, err
	}
	return &Reader{match: match, opts: opts, be: be}, nil
}

// Name returns "pcsc:<match>", or "pcsc:*" when the Reader covers all
// readers.
func (r *Reader) Name() string {
	if r.match == "" {
		return "pcsc:*"
	}
	return "pcsc:" + r.match
}

func (r *Reader) matches(name string) bool { return strings.HasPrefix(name, r.match) }

func (r *Reader) now() time.Time {
	if r.opts.Now != nil {
		return r.opts.Now()
	}
	return time.Now()
}

func (r *Reader) log() *slog.Logger {
	if r.opts.Log != nil {
		return r.opts.Log
	}
	return slog.Default()
}

// tracked is a card Run handed out.
type tracked struct {
	card   *Card
	events uint32
}

// Run watches the matching readers until ctx is done (then it returns nil)
// or pcscd fails (an error wrapping reader.ErrTransport; reader.Manager
// restarts it). Before returning an error it sends CardRemoved for every
// card it handed out. It never closes events.
func (r *Reader) Run(ctx context.Context, events chan<- reader.Event) error {
	s, err := r.be.open(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer s.close()
	cards := map[string]*tracked{}
	skipped := map[string]uint32{} // present cards we could not open, by event counter
	defer func() {
		for name, t := range cards {
			t.card.Close()
			if ctx.Err() == nil {
				// Run fails (pcscd died or restarted): the card went with
				// the connection. Say so, so that every CardPresent has its
				// CardRemoved also across a restart by reader.Manager.
				r.send(ctx, events, reader.Event{Reader: "pcsc:" + name, Kind: reader.CardRemoved, Time: r.now(), Tech: t.card.tech})
			}
		}
	}()
	for {
		st, err := s.readers(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for name, t := range cards {
			i := slices.IndexFunc(st, func(x ReaderStatus) bool { return x.Name == name })
			if i >= 0 && st[i].Present && st[i].Events == t.events {
				continue
			}
			delete(cards, name)
			t.card.Close()
			if !r.send(ctx, events, reader.Event{Reader: "pcsc:" + name, Kind: reader.CardRemoved, Time: r.now(), Tech: t.card.tech}) {
				return nil
			}
		}
		for _, x := range st {
			if !r.matches(x.Name) || !x.Present || x.Mute || cards[x.Name] != nil {
				continue
			}
			if ev, ok := skipped[x.Name]; ok && ev == x.Events {
				continue
			}
			delete(skipped, x.Name)
			card, err := r.tap(ctx, s, x)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.log().Info("pcsc: card seen but not opened", "reader", x.Name, "err", err)
				skipped[x.Name] = x.Events
				continue
			}
			cards[x.Name] = &tracked{card: card, events: x.Events}
			ev := reader.Event{Reader: "pcsc:" + x.Name, Kind: reader.CardPresent, Time: r.now(),
				Tech: card.tech, ATR: card.ATR(), UID: card.UID(), Card: card}
			if !r.send(ctx, events, ev) {
				return nil
			}
		}
		for name := range skipped {
			if !slices.ContainsFunc(st, func(x ReaderStatus) bool { return x.Name == name && x.Present }) {
				delete(skipped, name)
			}
		}
		if err := s.wait(ctx, st); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func (r *Reader) send(ctx context.Context, events chan<- reader.Event, ev reader.Event) bool {
	select {
	case events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// uidCommand is PC/SC part 3's GET DATA for the UID.
var uidCommand = []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}

// tap connects to the card in x and reads its UID.
func (r *Reader) tap(ctx context.Context, s session, x ReaderStatus) (*Card, error) {
	h, err := s.connect(ctx, x.Name)
	if err != nil {
		return nil, err
	}
	c := &Card{reader: x.Name, atr: x.ATR, tech: technologyOf(x.ATR), h: h, grace: r.opts.RemovalGrace}
	rsp, err := c.Transmit(ctx, uidCommand)
	switch {
	case err != nil && errors.Is(err, reader.ErrCardRemoved):
		c.Close()
		return nil, fmt.Errorf("pcsc: card left during UID read: %w", err)
	case err != nil:
		c.Close()
		return nil, err
	case len(rsp) > 2 && rsp[len(rsp)-2] == 0x90 && rsp[len(rsp)-1] == 0x00:
		c.uid = rsp[:len(rsp)-2]
	}
	return c, nil
}

// ListReaders returns the readers pcscd knows with their card state.
func ListReaders(ctx context.Context, opts Options) ([]ReaderStatus, error) {
	be, err := newBackend(opts.Backend, opts.Socket)
	if err != nil {
		return nil, err
	}
	s, err := be.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.readers(ctx)
}

var _ reader.Reader = (*Reader)(nil)
