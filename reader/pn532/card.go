package pn532

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/openykt/yktd/reader"
)

// Card is a card the module activated. It implements reader.Card through
// InDataExchange; Reader.Run hands one out with CardPresent and it fails
// with reader.ErrCardRemoved from CardRemoved on.
type Card struct {
	r      *Reader
	l      *link
	target Target
	tech   reader.Technology
	atr    []byte

	goneOnce sync.Once
	goneCh   chan struct{}
}

func (r *Reader) newCard(l *link, t Target) *Card {
	c := &Card{r: r, l: l, target: t, tech: reader.TechISO14443A, goneCh: make(chan struct{})}
	if t.ISO14443_4() {
		c.atr = ATRFromATS(t.ATS)
	} else {
		c.tech = reader.TechMifare
	}
	return c
}

// ATR returns the ATR built from the card's ATS (see ATRFromATS); nil for
// a card without ISO 14443-4.
func (c *Card) ATR() []byte { return bytes.Clone(c.atr) }

// UID returns the card's anti-collision UID (NFCID1).
func (c *Card) UID() []byte { return bytes.Clone(c.target.UID) }

// Target returns what InListPassiveTarget reported for the card.
func (c *Card) Target() Target { return c.target }

func (c *Card) markGone() { c.goneOnce.Do(func() { close(c.goneCh) }) }

func (c *Card) isGone() bool {
	select {
	case <-c.goneCh:
		return true
	default:
		return false
	}
}

// Transmit sends one command APDU (at most MaxAPDU bytes) and returns the
// card's response, status word included. Errors wrap
// reader.ErrCardRemoved (the card left: the module reported it gone, or it
// timed out and the presence check found no card), reader.ErrTimeout (the
// module or card did not answer in time, or ctx ended: the command is
// aborted and Transmit returns at once), reader.ErrMalformed (garbled
// frames the NACK retries could not repair) or reader.ErrTransport.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if c.isGone() {
		return nil, fmt.Errorf("pn532: transmit on %s: %w", c.r.Name(), reader.ErrCardRemoved)
	}
	if !c.target.ISO14443_4() {
		return nil, fmt.Errorf("pn532: transmit on %s: card is not ISO 14443-4 (SAK 0x%02X): %w", c.r.Name(), c.target.SelRes, reader.ErrTransport)
	}
	rsp, err := c.l.exchange(ctx, c.target.Tg, cmd)
	if err == nil {
		if len(rsp) < 2 {
			return nil, fmt.Errorf("pn532: transmit on %s: %d-byte response: %w", c.r.Name(), len(rsp), reader.ErrMalformed)
		}
		return rsp, nil
	}
	var me *ModuleError
	switch {
	case errors.As(err, &me) && errors.Is(err, reader.ErrCardRemoved):
		c.markGone()
	case errors.As(err, &me) && me.Code == 0x01 && ctx.Err() == nil:
		// The card did not answer: torn away, or slow? Ask the module.
		ok, perr := c.l.present(ctx)
		if perr == nil && !ok {
			c.markGone()
			return nil, fmt.Errorf("pn532: transmit on %s: %w (%w)", c.r.Name(), reader.ErrCardRemoved, err)
		}
	}
	return nil, fmt.Errorf("pn532: transmit on %s: %w", c.r.Name(), err)
}

var _ reader.Card = (*Card)(nil)
