package pcsc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/openykt/yktd/reader"
)

// DefaultSocket is where pcscd listens unless PCSCLITE_CSOCK_NAME says
// otherwise (the same variable libpcsclite reads).
const DefaultSocket = "/run/pcscd/pcscd.comm"

// SocketPath returns the pcscd socket the pure-Go backend dials:
// $PCSCLITE_CSOCK_NAME or DefaultSocket.
func SocketPath() string {
	if p := os.Getenv("PCSCLITE_CSOCK_NAME"); p != "" {
		return p
	}
	return DefaultSocket
}

var aLongTimeAgo = time.Unix(1, 0)

// wireConn is one connection to pcscd carrying one PC/SC context, as
// libpcsclite does it. Requests are serialised; after any I/O or protocol
// failure the connection is marked broken and every later call fails.
type wireConn struct {
	rw       io.ReadWriter
	nc       net.Conn // nil in fuzz tests
	mu       sync.Mutex
	broken   error
	hContext uint32
}

// dialWire connects to pcscd, checks the protocol version and
// establishes a context.
func dialWire(ctx context.Context, path string) (*wireConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("pcsc: pcscd not reachable at %s: %w: %w", path, reader.ErrTransport, err)
	}
	c := &wireConn{rw: nc, nc: nc}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// handshake runs CMD_VERSION and SCARD_ESTABLISH_CONTEXT.
func (c *wireConn) handshake(ctx context.Context) error {
	b, err := c.call(ctx, request(cmdVersion, protocolMajor, protocolMinor, 0), versionSize)
	if err != nil {
		return err
	}
	major, minor, rv, err := decodeVersion(b)
	if err != nil {
		return c.fail(err)
	}
	if rv != rvSuccess {
		return fmt.Errorf("pcsc: pcscd refused protocol %d.%d (it speaks %d.%d): %w", protocolMajor, protocolMinor, major, minor, rvError("version", rv))
	}
	b, err = c.call(ctx, request(cmdEstablishContext, scopeSystem, 0, 0), establishSize)
	if err != nil {
		return err
	}
	h, rv, err := decodeEstablish(b)
	if err != nil {
		return c.fail(err)
	}
	if err := rvError("establish context", rv); err != nil {
		return err
	}
	c.hContext = h
	return nil
}

// fail marks the connection broken and returns err wrapped as a transport
// fault.
func (c *wireConn) fail(err error) error {
	if c.broken == nil {
		c.broken = err
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if errors.Is(err, reader.ErrTransport) {
		return err
	}
	return fmt.Errorf("%w: %w", reader.ErrTransport, err)
}

// call sends req and reads exactly n reply bytes, honouring ctx.
func (c *wireConn) call(ctx context.Context, req []byte, n int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.send(ctx, req); err != nil {
		return nil, err
	}
	return c.recv(ctx, n)
}

func (c *wireConn) send(ctx context.Context, req []byte) error {
	if c.broken != nil {
		return fmt.Errorf("pcsc: connection to pcscd unusable after an earlier failure: %w: %w", reader.ErrTransport, c.broken)
	}
	stop := c.watch(ctx)
	_, err := c.rw.Write(req)
	if stop() && err != nil {
		return c.fail(ctxErr(ctx))
	}
	if err != nil {
		return c.fail(fmt.Errorf("pcsc: write to pcscd: %w", err))
	}
	return nil
}

// recv reads exactly n bytes; n is always a size this package chose, never
// one read from the wire unchecked.
func (c *wireConn) recv(ctx context.Context, n int) ([]byte, error) {
	buf := make([]byte, n)
	stop := c.watch(ctx)
	_, err := io.ReadFull(c.rw, buf)
	if stop() && err != nil {
		return nil, c.fail(ctxErr(ctx))
	}
	if err != nil {
		return nil, c.fail(fmt.Errorf("pcsc: read from pcscd: %w", err))
	}
	return buf, nil
}

// watch arms ctx's deadline and cancellation on the socket. The returned
// stop reports whether ctx ended during the I/O.
func (c *wireConn) watch(ctx context.Context) (stop func() bool) {
	if c.nc == nil {
		return func() bool { return ctx.Err() != nil }
	}
	dl, _ := ctx.Deadline()
	_ = c.nc.SetDeadline(dl)
	cancel := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	return func() bool {
		cancel()
		return ctx.Err() != nil
	}
}

// ctxErr turns an ended context into the reader sentinel: ErrTimeout for a
// deadline, the context's error otherwise.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("pcsc: %w: %w", reader.ErrTimeout, ctx.Err())
	}
	return fmt.Errorf("pcsc: %w", ctx.Err())
}

func (c *wireConn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken == nil && c.nc != nil {
		// Best effort, short: pcscd also releases the context when the
		// socket closes.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if c.send(ctx, request(cmdReleaseContext, c.hContext, 0)) == nil {
			_, _ = c.recv(ctx, releaseSize)
		}
		cancel()
	}
	c.broken = errors.New("closed")
	if c.nc != nil {
		return c.nc.Close()
	}
	return nil
}

// readerStates fetches pcscd's reader table (CMD_GET_READERS_STATE).
func (c *wireConn) readerStates(ctx context.Context) ([]rawState, error) {
	b, err := c.call(ctx, header(cmdGetReadersState, 0), readerStatesLen)
	if err != nil {
		return nil, err
	}
	st, err := decodeReaderStates(b)
	if err != nil {
		return nil, c.fail(err)
	}
	return st, nil
}

// waitChange registers for events (the daemon answers with its reader
// table), and returns as soon as that table differs from known, or after
// pcscd signals an event and the table differs then. On ctx.Done it
// unregisters (CMD_STOP_WAITING_READER_STATE_CHANGE) and returns ctx's
// error; exactly one wait_reader_state_change struct ends every
// registration, either the event or the answer to the stop.
func (c *wireConn) waitChange(ctx context.Context, known []ReaderStatus) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if err := c.send(ctx, header(cmdWaitReaderState, 0)); err != nil {
			return err
		}
		b, err := c.recv(ctx, readerStatesLen)
		if err != nil {
			return err
		}
		st, err := decodeReaderStates(b)
		if err != nil {
			return c.fail(err)
		}
		changed := !sameReaders(known, statusesFromRaw(st))
		if changed {
			if err := c.stopWaiting(); err != nil {
				return err
			}
			return nil
		}
		// Block for the event without a context deadline on the socket:
		// ctx.Done triggers the stop request instead.
		got := make(chan error, 1)
		go func() {
			b, err := c.recv(context.Background(), waitSize)
			if err == nil {
				_, err = decodeRV("wait event", b, waitSize)
			}
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				return err
			}
			continue // an event: look at the table again
		case <-ctx.Done():
			// Unregister; the event or the stop answer ends the read.
			_, werr := c.rw.Write(header(cmdStopWaitingReaders, 0))
			rerr := <-got
			if werr != nil {
				return c.fail(fmt.Errorf("pcsc: write to pcscd: %w", werr))
			}
			if rerr != nil {
				return rerr
			}
			return ctxErr(ctx)
		}
	}
}

// stopWaiting unregisters after a registration whose table already showed
// a change and reads the one struct that ends it.
func (c *wireConn) stopWaiting() error {
	if _, err := c.rw.Write(header(cmdStopWaitingReaders, 0)); err != nil {
		return c.fail(fmt.Errorf("pcsc: write to pcscd: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := c.recv(ctx, waitSize)
	if err != nil {
		return err
	}
	if _, err := decodeRV("stop waiting", b, waitSize); err != nil {
		return c.fail(err)
	}
	return nil
}

// connect runs SCARD_CONNECT (shared, T=0 or T=1).
func (c *wireConn) connect(ctx context.Context, name string) (hCard int32, proto uint32, err error) {
	req, err := encodeConnect(c.hContext, name)
	if err != nil {
		return 0, 0, err
	}
	b, err := c.call(ctx, req, connectSize)
	if err != nil {
		return 0, 0, err
	}
	hCard, proto, rv, err := decodeConnect(b)
	if err != nil {
		return 0, 0, c.fail(err)
	}
	if err := rvError("connect "+name, rv); err != nil {
		return 0, 0, err
	}
	return hCard, proto, nil
}

// transmit runs SCARD_TRANSMIT; the response length announced by pcscd is
// checked before anything is allocated for it.
func (c *wireConn) transmit(ctx context.Context, hCard int32, proto uint32, apdu []byte) ([]byte, error) {
	req, err := encodeTransmit(hCard, proto, apdu)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.send(ctx, req); err != nil {
		return nil, err
	}
	b, err := c.recv(ctx, transmitSize)
	if err != nil {
		return nil, err
	}
	n, rv, err := decodeTransmit(b)
	if err != nil {
		return nil, c.fail(err)
	}
	if err := rvError("transmit", rv); err != nil {
		return nil, err
	}
	return c.recv(ctx, n)
}

// status runs SCARD_STATUS on hCard: nil while the card is still the one
// connected, an *Error (SCARD_W_REMOVED_CARD...) otherwise.
func (c *wireConn) status(ctx context.Context, hCard int32) error {
	b, err := c.call(ctx, request(cmdStatus, uint32(hCard), 0), statusSize)
	if err != nil {
		return err
	}
	rv, err := decodeRV("status", b, statusSize)
	if err != nil {
		return c.fail(err)
	}
	return rvError("status", rv)
}

// disconnect runs SCARD_DISCONNECT leaving the card as it is.
func (c *wireConn) disconnect(ctx context.Context, hCard int32) error {
	b, err := c.call(ctx, request(cmdDisconnect, uint32(hCard), leaveCard, 0), disconnectSize)
	if err != nil {
		return err
	}
	rv, err := decodeRV("disconnect", b, disconnectSize)
	if err != nil {
		return c.fail(err)
	}
	return rvError("disconnect", rv)
}

// statusesFromRaw converts pcscd's table into ReaderStatus values.
func statusesFromRaw(st []rawState) []ReaderStatus {
	out := make([]ReaderStatus, 0, len(st))
	for _, s := range st {
		r := ReaderStatus{
			Name:      s.Name,
			Present:   s.State&statePresent != 0,
			InUse:     s.Sharing != 0,
			Exclusive: s.Sharing < 0,
			Events:    s.Counter,
		}
		if r.Present {
			r.ATR = s.ATR
			r.Mute = len(s.ATR) == 0
		}
		out = append(out, r)
	}
	return out
}

// sameReaders reports whether two snapshots agree on what Run cares about:
// the set of readers, card presence and the card event counters.
func sameReaders(a, b []ReaderStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		i := slices.IndexFunc(b, func(y ReaderStatus) bool { return y.Name == x.Name })
		if i < 0 {
			return false
		}
		y := b[i]
		if x.Present != y.Present || x.Events != y.Events || x.Mute != y.Mute {
			return false
		}
	}
	return true
}
