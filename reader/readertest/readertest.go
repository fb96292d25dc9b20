// Package readertest provides a scripted fake reader.Card for
// driver-agnostic tests, in the style of periph's gpiotest: a test lists the
// command APDUs it expects with the responses the card gives, may make the
// card leave the field after N exchanges (or tear it away in the middle of
// one), and inspects the recorded exchange afterwards.
package readertest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/openykt/yktd/reader"
)

// ErrUnexpectedCommand is returned by Card.Transmit when the command does
// not match the next scripted step or the script is exhausted and there is
// no Handler.
var ErrUnexpectedCommand = errors.New("readertest: unexpected command")

// Step is one scripted exchange.
type Step struct {
	// Cmd is the expected command APDU in hex; spaces are ignored, case is
	// not significant. Empty matches any command.
	Cmd string
	// Resp is the response in hex, status word included.
	Resp string
	// Err, when set, is returned by Transmit instead of Resp (e.g.
	// reader.ErrTimeout or an error wrapping reader.ErrTransport).
	Err error
}

// Exchange is one recorded call of Transmit.
type Exchange struct {
	Cmd  []byte
	Resp []byte // nil when Err is set
	Err  error
}

// String renders the exchange as "cmd -> resp" in upper-case hex.
func (e Exchange) String() string {
	if e.Err != nil {
		return fmt.Sprintf("%X -> error %v", e.Cmd, e.Err)
	}
	return fmt.Sprintf("%X -> %X", e.Cmd, e.Resp)
}

// Card is a fake reader.Card. The zero value answers nothing (every command
// is unexpected); fill Script and/or Handler. It is safe for concurrent use.
type Card struct {
	// Script is consumed in order, one step per Transmit.
	Script []Step
	// Handler answers commands once Script is exhausted (a stateful card
	// simulation); nil means such commands are unexpected.
	Handler func(cmd []byte) ([]byte, error)
	// RemoveAfter, when positive, removes the card after that many
	// exchanges: later calls return reader.ErrCardRemoved and reach neither
	// the script nor the handler.
	RemoveAfter int
	// TearAt, when positive, tears the card away during exchange number
	// TearAt (1-based): the command reaches the script or handler (it takes
	// effect on the card) but the response is lost, Transmit returns
	// reader.ErrCardRemoved, and the card is gone from then on.
	TearAt int

	mu      sync.Mutex
	next    int
	n       int
	removed bool
	log     []Exchange
}

// NewCard returns a card that plays steps in order.
func NewCard(steps ...Step) *Card { return &Card{Script: steps} }

// Hex decodes a hex string with optional spaces; it panics on bad input
// (test data is a programming error).
func Hex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(fmt.Sprintf("readertest: bad hex %q: %v", s, err))
	}
	return b
}

// Transmit implements reader.Card.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	cmd = bytes.Clone(cmd)
	if err := ctx.Err(); err != nil {
		return nil, c.record(cmd, nil, fmt.Errorf("%w: %w", reader.ErrTimeout, err))
	}
	c.mu.Lock()
	if c.removed || (c.RemoveAfter > 0 && c.n >= c.RemoveAfter) {
		c.removed = true
		c.mu.Unlock()
		return nil, c.record(cmd, nil, reader.ErrCardRemoved)
	}
	c.n++
	tear := c.TearAt > 0 && c.n == c.TearAt
	var resp []byte
	var err error
	switch {
	case c.next < len(c.Script):
		st := c.Script[c.next]
		c.next++
		if st.Cmd != "" && !bytes.Equal(Hex(st.Cmd), cmd) {
			err = fmt.Errorf("%w: step %d: got %X, want %s", ErrUnexpectedCommand, c.next, cmd, strings.ToUpper(strings.ReplaceAll(st.Cmd, " ", "")))
		} else if st.Err != nil {
			err = st.Err
		} else {
			resp = Hex(st.Resp)
		}
		c.mu.Unlock()
	case c.Handler != nil:
		h := c.Handler
		c.mu.Unlock()
		resp, err = h(cmd)
	default:
		c.mu.Unlock()
		err = fmt.Errorf("%w: %X after the script ended", ErrUnexpectedCommand, cmd)
	}
	if tear {
		c.mu.Lock()
		c.removed = true
		c.mu.Unlock()
		return nil, c.record(cmd, nil, reader.ErrCardRemoved)
	}
	if err != nil {
		return nil, c.record(cmd, nil, err)
	}
	return bytes.Clone(resp), c.record(cmd, resp, nil)
}

func (c *Card) record(cmd, resp []byte, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, Exchange{Cmd: cmd, Resp: bytes.Clone(resp), Err: err})
	return err
}

// Remove takes the card out of the field: every later Transmit returns
// reader.ErrCardRemoved.
func (c *Card) Remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removed = true
}

// Log returns a copy of the exchanges so far, in order.
func (c *Card) Log() []Exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Exchange(nil), c.log...)
}

// Remaining returns the number of scripted steps not yet played.
func (c *Card) Remaining() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.Script) - c.next
}

// Done returns an error listing the unplayed steps, or nil when the whole
// script was played. Call it at the end of a test.
func (c *Card) Done() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next < len(c.Script) {
		return fmt.Errorf("readertest: %d of %d steps not played, next %q", len(c.Script)-c.next, len(c.Script), c.Script[c.next].Cmd)
	}
	return nil
}
