package perf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
)

// Trace is what a card saw of one tap, on this process's clock.
type Trace struct {
	Tap       time.Time // the card was put into the field (Slot.Present)
	FirstAPDU time.Time // the first command APDU arrived (the reader's UID read)
	DebitDone time.Time // the card answered DEBIT FOR PURCHASE (zero: no DEBIT)
	// CardTime is the time the card spent answering the commands up to
	// and including DEBIT (its own processing and state writes, not the
	// transport).
	CardTime time.Duration
	// INS lists the instruction bytes of the commands, in order, and At
	// when each arrived, after Tap.
	INS []byte
	At  []time.Duration
}

// timedCard is a virtual card that stamps every command pcscd passes it.
type timedCard struct {
	card *sim.Card
	mu   sync.Mutex
	tr   Trace
}

func (c *timedCard) ATR() []byte { return c.card.ATR() }
func (c *timedCard) Reset()      { c.card.Reset() }

// insDebit is DEBIT FOR PURCHASE's instruction byte.
const insDebit = 0x54

func (c *timedCard) Respond(cmd []byte) ([]byte, error) {
	t0 := time.Now()
	rsp, err := c.card.Respond(cmd)
	t1 := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tr.FirstAPDU.IsZero() {
		c.tr.FirstAPDU = t0
	}
	if len(cmd) >= 2 {
		c.tr.INS = append(c.tr.INS, cmd[1])
		c.tr.At = append(c.tr.At, t0.Sub(c.tr.Tap))
	}
	if c.tr.DebitDone.IsZero() {
		c.tr.CardTime += t1.Sub(t0)
		if len(cmd) >= 2 && cmd[0]&0xF0 == 0x80 && cmd[1] == insDebit {
			c.tr.DebitDone = t1
		}
	}
	return rsp, err
}

// mark starts a new trace at t.
func (c *timedCard) mark(t time.Time) {
	c.mu.Lock()
	c.tr = Trace{Tap: t}
	c.mu.Unlock()
}

func (c *timedCard) trace() Trace {
	c.mu.Lock()
	defer c.mu.Unlock()
	tr := c.tr
	tr.INS = append([]byte(nil), c.tr.INS...)
	tr.At = append([]time.Duration(nil), c.tr.At...)
	return tr
}

// CardHost puts one virtual card behind each of vpcd's slots, as `yktd rig
// vcard` does (a reader/vpcd Slot serving a reader/sim card loaded from
// its state file, which the card rewrites at every change), and times
// what pcscd sends them.
type CardHost struct {
	slots []*vpcd.Slot
	cards []*timedCard
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

// NewCardHost starts a slot for each address (vpcd's card side) with the
// card of the state file of the same index, out of the field. With
// quickAck the slots acknowledge vpcd's frames at once (see quickAckConn).
func NewCardHost(addrs, stateFiles []string, quickAck bool) (*CardHost, error) {
	if len(addrs) != len(stateFiles) {
		return nil, fmt.Errorf("perf: card host: %d slots, %d cards", len(addrs), len(stateFiles))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &CardHost{stop: cancel}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, a := range addrs {
		c, err := sim.LoadCard(stateFiles[i])
		if err != nil {
			cancel()
			return nil, fmt.Errorf("perf: card host: %w", err)
		}
		s := &vpcd.Slot{Addr: a, Log: quiet}
		if quickAck {
			s.Dial = dialQuickAck
		}
		h.slots, h.cards = append(h.slots, s), append(h.cards, &timedCard{card: c})
		h.wg.Add(1)
		go func() { defer h.wg.Done(); _ = s.Run(ctx) }()
	}
	return h, nil
}

// Tap puts slot i's card into the field and starts its trace.
func (h *CardHost) Tap(i int) {
	h.cards[i].mark(time.Now())
	h.slots[i].Present(h.cards[i])
}

// Mark starts a new trace of slot i's card without a tap (a card that
// stays in the field for another sale).
func (h *CardHost) Mark(i int) { h.cards[i].mark(time.Now()) }

// Remove takes slot i's card out of the field.
func (h *CardHost) Remove(i int) { h.slots[i].Remove() }

// Trace returns slot i's trace since its last Tap or Mark.
func (h *CardHost) Trace(i int) Trace { return h.cards[i].trace() }

// Balance returns the balance of slot i's card.
func (h *CardHost) Balance(i int) uint32 { return h.cards[i].card.Status().Balance }

// quickAckConn is the card side's connection to vpcd with TCP_QUICKACK
// set again before every read. The vpcd driver writes each frame's
// 2-byte length and its payload separately with Nagle's algorithm on, so
// the payload waits for the ACK of the length, which Linux delays by 40 ms:
// every command APDU then costs about 44 ms, a property of the virtual
// reader's socket that no USB reader has. Acknowledging at once takes it
// away; the commands, pcscd and the daemon are unchanged.
type quickAckConn struct {
	*net.TCPConn
	set int // reads preceded by a successful TCP_QUICKACK (one goroutine reads)
}

func (c *quickAckConn) Read(b []byte) (int, error) {
	if rc, err := c.SyscallConn(); err == nil {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		}); err == nil && serr == nil {
			c.set++
		}
	}
	return c.TCPConn.Read(b)
}

func dialQuickAck(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &quickAckConn{TCPConn: c.(*net.TCPConn)}, nil
}

// Close takes the cards away and stops the slots.
func (h *CardHost) Close() {
	h.stop()
	h.wg.Wait()
}
