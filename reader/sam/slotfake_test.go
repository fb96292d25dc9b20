package sam_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sim"
)

// pcscSlot is a fake reader.Reader of a PSAM slot that behaves like
// reader/pcsc's Reader over pcscd and vpcd, as strictly as they do:
//
//   - while "pcscd" is down Run fails at once with reader.ErrTransport;
//   - each Run reports the card seated when it starts as a new card (it
//     connects anew, as pcsc.Reader does; the card is not reset), then
//     every insertion and removal;
//   - when pcscd dies under a Run, the Run sends CardRemoved for the card
//     it handed out and returns an error wrapping reader.ErrTransport;
//   - a card handle is valid until its CardRemoved or the end of its Run:
//     then Transmit fails with reader.ErrCardRemoved (pcsc.Card after
//     Close); while pcscd is down it fails with reader.ErrTransport;
//   - a card torn mid-command (a sim fault: Respond fails) leaves the
//     slot, as vpcd.Slot drops its connection, and Transmit fails with
//     reader.ErrCardRemoved;
//   - Break makes the handle in use fail with reader.ErrTransport while
//     the card stays seated and nothing is reported (a broken card
//     connection under a live pcscd): only a new Run reconnects it.
type pcscSlot struct {
	mu      sync.Mutex
	up      bool
	card    sim.Presentable // seated; nil when none
	seat    int             // bumped by every Seat and Unseat
	changed chan struct{}   // closed and replaced on every change
	runs    int             // Run calls so far
	broken  *fakeCard       // the handle Break broke
	cur     *fakeCard       // the handle of the running Run
	tech    reader.Technology
}

func newPCSCSlot() *pcscSlot {
	return &pcscSlot{up: true, changed: make(chan struct{}), tech: reader.TechContact}
}

func (f *pcscSlot) Name() string { return "pcsc:Fake SAM Slot 00 00" }

func (f *pcscSlot) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Seat inserts card (powering it up), replacing any card there.
func (f *pcscSlot) Seat(card sim.Presentable) { f.SeatTech(card, reader.TechContact) }

// SeatTech is Seat of a card the reader reports as of technology tech
// (pcsc.Reader guesses it from the ATR).
func (f *pcscSlot) SeatTech(card sim.Presentable, tech reader.Technology) {
	card.Reset()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.card, f.tech = card, tech
	f.seat++
	f.notify()
}

// Unseat takes the card out.
func (f *pcscSlot) Unseat() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unseatLocked()
}

func (f *pcscSlot) unseatLocked() {
	if f.card == nil {
		return
	}
	f.card = nil
	f.seat++
	f.notify()
}

// SetUp starts (true) or kills (false) the fake pcscd.
func (f *pcscSlot) SetUp(up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = up
	f.notify()
}

// Break breaks the connection of the handle in use (see pcscSlot).
func (f *pcscSlot) Break() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken = f.cur
}

// Runs returns how many times Run was called.
func (f *pcscSlot) Runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs
}

func (f *pcscSlot) Run(ctx context.Context, events chan<- reader.Event) error {
	f.mu.Lock()
	f.runs++
	up := f.up
	f.mu.Unlock()
	if !up {
		return fmt.Errorf("fake pcscd: connect: %w", reader.ErrTransport)
	}
	var cur *fakeCard
	send := func(e reader.Event) bool {
		select {
		case events <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	closeCur := func() {
		f.mu.Lock()
		cur.closed = true
		f.cur = nil
		f.mu.Unlock()
	}
	defer func() {
		if cur != nil {
			closeCur()
		}
	}()
	for {
		f.mu.Lock()
		up, card, seat, ch, tech := f.up, f.card, f.seat, f.changed, f.tech
		f.mu.Unlock()
		if cur != nil && (!up || cur.seat != seat) {
			closeCur()
			cur = nil
			if !send(reader.Event{Reader: f.Name(), Kind: reader.CardRemoved, Tech: reader.TechContact}) {
				return nil
			}
		}
		if !up {
			return fmt.Errorf("fake pcscd: connection lost: %w", reader.ErrTransport)
		}
		if cur == nil && card != nil {
			cur = &fakeCard{f: f, card: card, seat: seat}
			f.mu.Lock()
			f.cur = cur
			f.mu.Unlock()
			if !send(reader.Event{Reader: f.Name(), Kind: reader.CardPresent, Tech: tech, ATR: card.ATR(), Card: cur}) {
				return nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
}

// fakeCard is one connection to the seated card.
type fakeCard struct {
	f      *pcscSlot
	card   sim.Presentable
	seat   int
	closed bool // guarded by f.mu
}

func (c *fakeCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake: %w: %w", reader.ErrTimeout, err)
	}
	f := c.f
	f.mu.Lock()
	switch {
	case c.closed || f.seat != c.seat:
		f.mu.Unlock()
		return nil, fmt.Errorf("fake: transmit: %w", reader.ErrCardRemoved)
	case !f.up || f.broken == c:
		f.mu.Unlock()
		return nil, fmt.Errorf("fake: transmit: %w", reader.ErrTransport)
	}
	f.mu.Unlock()
	rsp, err := c.card.Respond(cmd)
	if err != nil {
		f.mu.Lock()
		if f.seat == c.seat {
			f.unseatLocked()
		}
		f.mu.Unlock()
		return nil, fmt.Errorf("fake: transmit: %w (%w)", reader.ErrCardRemoved, err)
	}
	return rsp, nil
}

// recorder is a card that records the instructions it receives.
type recorder struct {
	sim.Presentable
	mu   sync.Mutex
	cmds [][]byte
}

func (r *recorder) Respond(cmd []byte) ([]byte, error) {
	r.mu.Lock()
	r.cmds = append(r.cmds, bytes.Clone(cmd))
	r.mu.Unlock()
	return r.Presentable.Respond(cmd)
}

// got returns how many commands with instruction ins the PSAM received.
func (r *recorder) got(ins byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.cmds {
		if len(c) > 1 && c[1] == ins {
			n++
		}
	}
	return n
}
