package pcsc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/openykt/yktd/reader"
)

// defaultIOTimeout bounds housekeeping calls (disconnect) that have no
// caller context.
const defaultIOTimeout = 5 * time.Second

// DefaultRemovalGrace is how long Transmit watches the card's status after
// a failed exchange to tell a card torn away (reader.ErrCardRemoved) from
// a reader fault: pcscd notices a vanished card at its next presence poll,
// within about 400 ms for polled readers such as vpcd.
const DefaultRemovalGrace = time.Second

// Card is a card connected through pcscd (shared mode, T=0 or T=1). It
// implements reader.Card; Reader.Run hands one out with every CardPresent
// event and invalidates it at the matching CardRemoved. Methods are safe
// for concurrent use; exchanges are serialised.
type Card struct {
	reader string
	atr    []byte
	tech   reader.Technology
	uid    []byte
	grace  time.Duration

	mu   sync.Mutex
	h    handle
	gone bool // removed (seen by Run) or closed
}

// ReaderName returns the PC/SC name of the reader the card is in.
func (c *Card) ReaderName() string { return c.reader }

// ATR returns the card's answer to reset.
func (c *Card) ATR() []byte { return bytes.Clone(c.atr) }

// Technology returns the technology guessed from the ATR.
func (c *Card) Technology() reader.Technology { return c.tech }

// UID returns the anti-collision UID the reader gave for FF CA 00 00 00,
// or nil when it gave none (contact cards, readers without the command).
func (c *Card) UID() []byte { return bytes.Clone(c.uid) }

// Transmit sends one command APDU and returns the response, status word
// included. Errors wrap reader.ErrCardRemoved (the card left the field,
// also when the exchange failed and pcscd reports the card gone within the
// removal grace), reader.ErrTimeout (ctx's deadline, SCARD_E_TIMEOUT) or
// reader.ErrTransport (pcscd or the reader failed).
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return nil, fmt.Errorf("pcsc: transmit on %s: %w", c.reader, reader.ErrCardRemoved)
	}
	rsp, err := c.h.transmit(ctx, cmd)
	if err == nil && len(rsp) >= 2 {
		return rsp, nil
	}
	if err == nil {
		// vpcd (and some drivers) report a card that vanished mid-command
		// as a successful exchange without even a status word.
		err = fmt.Errorf("pcsc: transmit on %s: %d-byte response: %w: %w", c.reader, len(rsp), reader.ErrTransport, reader.ErrMalformed)
	}
	if ctx.Err() != nil || errors.Is(err, reader.ErrCardRemoved) || errors.Is(err, reader.ErrTimeout) {
		return nil, err
	}
	// SCARD_E_NOT_TRANSACTED and friends: a torn card or a reader fault?
	// pcscd knows at its next presence poll.
	if c.removedWithin(ctx) {
		return nil, fmt.Errorf("pcsc: transmit on %s: %w (exchange failed: %w)", c.reader, reader.ErrCardRemoved, err)
	}
	return nil, err
}

// removedWithin polls the card status for up to the removal grace.
func (c *Card) removedWithin(ctx context.Context) bool {
	grace := c.grace
	if grace <= 0 {
		grace = DefaultRemovalGrace
	}
	deadline := time.Now().Add(grace)
	for {
		sctx, cancel := context.WithTimeout(ctx, grace)
		err := c.h.status(sctx)
		cancel()
		if errors.Is(err, reader.ErrCardRemoved) {
			return true
		}
		if err != nil && !errors.Is(err, reader.ErrTimeout) {
			return false // transport gone: cannot tell
		}
		if time.Now().After(deadline) {
			return false
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// Close disconnects from the card (leaving it powered) and invalidates the
// Card. Reader.Run closes the cards it handed out when they are removed;
// calling Close again is harmless.
func (c *Card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone && c.h == nil {
		return nil
	}
	c.gone = true
	h := c.h
	c.h = nil
	if h == nil {
		return nil
	}
	return h.disconnect()
}

var _ reader.Card = (*Card)(nil)
