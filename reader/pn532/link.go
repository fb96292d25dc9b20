package pn532

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/openykt/yktd/reader"
)

// Link-layer errors.
var (
	// ErrSyntax: the module answered a command with the error frame (it
	// found the command's syntax wrong).
	ErrSyntax = fmt.Errorf("pn532: module reported a syntax error: %w", reader.ErrTransport)
	// ErrNACK: the module kept answering the command with NACK frames.
	ErrNACK = fmt.Errorf("pn532: module refused the command frame: %w", reader.ErrTransport)
)

// Limits of the link's error recovery.
const (
	maxNACKSent   = 2 // NACKs sent for one response before giving up
	maxResends    = 2 // command frames resent after a module NACK
	inboxCapacity = 16
)

// wakeUp is the HSU wake-up sequence sent before a command when the module
// may be asleep: 55 55 and a long preamble of zeros (PN532 application
// note, HSU wake-up condition), which the module's frame decoder skips.
var wakeUp = append([]byte{0x55, 0x55}, make([]byte, 14)...)

// item is what the read loop hands to a command: a frame, or the error of
// bytes it could not decode.
type item struct {
	f   Frame
	err error
}

// link runs the host side of the PN532 frame protocol over a serial port.
// One command at a time (sem); a read loop decodes every byte the module
// sends, so that a command waits for frames with timers and ctx rather
// than with go-serial's read timeout (which returns 0, nil on expiry).
type link struct {
	port serial.Port
	name string
	t    Timeouts
	log  *slog.Logger
	now  func() time.Time

	newTimer func(time.Duration) (<-chan time.Time, func() bool)

	in      chan item
	dead    chan struct{} // closed when the read loop stopped
	deadErr error         // why, set before dead is closed

	sem      chan struct{}
	lastCmd  time.Time // guarded by sem
	awake    bool      // guarded by sem
	closeOne sync.Once
}

func newLink(port serial.Port, name string, opts Options, log *slog.Logger) *link {
	l := &link{port: port, name: name, t: opts.Timeouts.withDefaults(), log: log, now: opts.Now, newTimer: opts.NewTimer,
		in: make(chan item, inboxCapacity), dead: make(chan struct{}), sem: make(chan struct{}, 1)}
	go l.readLoop()
	return l
}

// readLoop decodes the module's bytes until the port fails or is closed.
func (l *link) readLoop() {
	var d Decoder
	buf := make([]byte, 512)
	for {
		n, err := l.port.Read(buf)
		if err != nil {
			l.deadErr = fmt.Errorf("pn532: %s: read: %w: %w", l.name, reader.ErrTransport, err)
			close(l.dead)
			return
		}
		// n == 0 with no error is go-serial's read timeout; none is set,
		// so it does not happen, and would only loop once more.
		d.Write(buf[:n])
		for {
			f, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			select {
			case l.in <- item{f: f, err: err}:
			default:
				l.log.Debug("pn532: unsolicited frame dropped", "device", l.name, "kind", f.Kind, "err", err)
			}
		}
	}
}

// close closes the port and waits for the read loop to stop.
func (l *link) close() {
	l.closeOne.Do(func() {
		l.port.Close()
		<-l.dead
	})
}

// transportErr reports why the link is dead.
func (l *link) transportErr() error {
	<-l.dead
	return l.deadErr
}

func (l *link) write(b []byte) error {
	if _, err := l.port.Write(b); err != nil {
		return fmt.Errorf("pn532: %s: write: %w: %w", l.name, reader.ErrTransport, err)
	}
	return nil
}

// command sends data (command code first) and returns the response data
// after the response code. It waits at most l.t.ACK for the ACK and then
// timeout for the response; on expiry or when ctx ends it aborts the
// command with an ACK frame (PN532 user manual 6.2.1.4) and returns an
// error wrapping reader.ErrTimeout.
func (l *link) command(ctx context.Context, name string, data []byte, timeout time.Duration) ([]byte, error) {
	frame, err := EncodeInfo(TFIHost, data)
	if err != nil {
		return nil, fmt.Errorf("pn532: %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pn532: %s: %w: %w", name, reader.ErrTimeout, err)
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("pn532: %s: %w: %w", name, reader.ErrTimeout, ctx.Err())
	case <-l.dead:
		return nil, l.deadErr
	}
	defer func() { <-l.sem }()
	l.drain()

	// The first timer exists before the module can see the command, so a
	// test clock that fires it once the module received the command hits it.
	expired, stop := l.newTimer(l.t.ACK)
	defer func() { stop() }()
	rearm := func(d time.Duration) {
		stop()
		expired, stop = l.newTimer(d)
	}

	out := frame
	if !l.awake || l.now().Sub(l.lastCmd) >= l.t.Idle {
		out = append(bytes.Clone(wakeUp), frame...)
	}
	if err := l.write(out); err != nil {
		return nil, err
	}
	l.awake = true
	l.lastCmd = l.now()

	var acked, sawBad bool
	var nacks, resends int
	want := data[0] + 1
	for {
		select {
		case <-ctx.Done():
			l.abort()
			return nil, fmt.Errorf("pn532: %s: %w: %w", name, reader.ErrTimeout, ctx.Err())
		case <-l.dead:
			return nil, l.deadErr
		case <-expired:
			l.abort()
			if !acked && !sawBad {
				return nil, fmt.Errorf("pn532: %s: no ACK within %v: %w", name, l.t.ACK, reader.ErrTimeout)
			}
			return nil, fmt.Errorf("pn532: %s: no response within %v: %w", name, timeout, reader.ErrTimeout)
		case it := <-l.in:
			if it.err != nil {
				sawBad = true
				if !acked {
					// Maybe our ACK, garbled. A NACK now could bring back
					// the previous command's response: wait for this one.
					l.log.Debug("pn532: bad frame before the ACK", "device", l.name, "cmd", name, "err", it.err)
					continue
				}
				// A garbled response: ask for it again (the module resends
				// its last response on NACK), a bounded number of times.
				if nacks >= maxNACKSent {
					l.abort()
					return nil, fmt.Errorf("pn532: %s: response still bad after %d NACKs: %w", name, nacks, it.err)
				}
				nacks++
				l.log.Debug("pn532: bad frame, sending NACK", "device", l.name, "cmd", name, "err", it.err)
				if err := l.write(NACKFrame); err != nil {
					return nil, err
				}
				rearm(timeout)
				continue
			}
			switch it.f.Kind {
			case KindACK:
				acked = true
				rearm(timeout)
			case KindNACK:
				if resends >= maxResends {
					return nil, fmt.Errorf("pn532: %s: %w", name, ErrNACK)
				}
				resends++
				if err := l.write(frame); err != nil {
					return nil, err
				}
				rearm(l.t.ACK)
			case KindError:
				return nil, fmt.Errorf("pn532: %s: %w", name, ErrSyntax)
			case KindInfo:
				if !acked && !sawBad {
					// Before our ACK: the leftover of an earlier command.
					l.log.Debug("pn532: stale response dropped", "device", l.name, "cmd", name)
					continue
				}
				if it.f.TFI != TFIModule {
					return nil, fmt.Errorf("pn532: %s: frame identifier 0x%02X: %w", name, it.f.TFI, ErrFrame)
				}
				if it.f.Data[0] != want {
					l.log.Debug("pn532: response to another command dropped", "device", l.name, "cmd", name, "code", it.f.Data[0])
					continue
				}
				return it.f.Data[1:], nil
			}
		}
	}
}

// abort sends an ACK frame, which makes the module drop the command in
// progress, and wakes the module again before the next command.
func (l *link) abort() {
	l.awake = false
	if err := l.write(ACKFrame); err != nil {
		l.log.Debug("pn532: abort", "device", l.name, "err", err)
	}
}

// drain drops frames left over from an aborted command.
func (l *link) drain() {
	for {
		select {
		case <-l.in:
		default:
			return
		}
	}
}
