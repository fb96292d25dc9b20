package pcsc

import (
	"context"
	"fmt"
	"strings"
)

// Backend selects how the driver reaches pcscd.
type Backend string

// Backends.
const (
	// Auto uses cgo (libpcsclite through github.com/ebfe/scard) when the
	// binary was built with cgo, and the pure-Go client otherwise.
	Auto Backend = "auto"
	// Pure is the pure-Go client of pcscd's socket protocol; always
	// available, the only one in CGO_ENABLED=0 builds.
	Pure Backend = "pure"
	// Cgo is libpcsclite through github.com/ebfe/scard; cgo builds only.
	Cgo Backend = "cgo"
)

// ParseBackend accepts "auto", "pure" and "cgo" (case-insensitive).
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(strings.ToLower(s)); b {
	case Auto, Pure, Cgo:
		return b, nil
	case "":
		return Auto, nil
	}
	return "", fmt.Errorf("pcsc: unknown backend %q (want auto, pure or cgo)", s)
}

// Backends lists the backends compiled into this binary, Pure first.
func Backends() []Backend {
	if cgoAvailable {
		return []Backend{Pure, Cgo}
	}
	return []Backend{Pure}
}

// ReaderStatus is one reader as pcscd sees it.
type ReaderStatus struct {
	Name      string // reader name, e.g. "ACS ACR122U 00 00" or "Virtual PCD 00 00"
	Present   bool   // a card is in the reader (or in its field)
	Mute      bool   // present but it gave no ATR
	InUse     bool   // some application is connected to the card
	Exclusive bool   // ... in exclusive mode
	ATR       []byte // the card's ATR when Present
	// Events counts card insertions and removals in this reader; a new
	// value with Present still true means the card was swapped.
	Events uint32
}

// backend is what the driver needs from a way to reach pcscd.
type backend interface {
	// open establishes a PC/SC context for reader tracking.
	open(ctx context.Context) (session, error)
}

// session is one PC/SC context used to watch readers.
type session interface {
	// readers returns the current reader table.
	readers(ctx context.Context) ([]ReaderStatus, error)
	// wait blocks until the reader table differs from known (readers
	// added or removed, card presence or event counter changed) or ctx is
	// done. It may return early; callers re-read the table.
	wait(ctx context.Context, known []ReaderStatus) error
	// connect opens the card in reader name (shared, T=0|T=1) on a
	// context of its own, so that card I/O never queues behind a wait.
	connect(ctx context.Context, name string) (handle, error)
	close() error
}

// handle is one connected card.
type handle interface {
	transmit(ctx context.Context, apdu []byte) ([]byte, error)
	// status is nil while the connected card is still there and an
	// error wrapping reader.ErrCardRemoved once it left.
	status(ctx context.Context) error
	// disconnect leaves the card as it is and frees the context.
	disconnect() error
}

// newBackend resolves b to an implementation. socket is used by Pure.
func newBackend(b Backend, socket string) (backend, error) {
	switch b {
	case Pure:
		if socket == "" {
			socket = SocketPath()
		}
		return pureBackend{socket: socket}, nil
	case Cgo:
		if !cgoAvailable {
			return nil, fmt.Errorf("pcsc: backend cgo not available: this binary was built with CGO_ENABLED=0")
		}
		return newCgoBackend(), nil
	case Auto, "":
		if cgoAvailable {
			return newCgoBackend(), nil
		}
		return newBackend(Pure, socket)
	}
	return nil, fmt.Errorf("pcsc: unknown backend %q", b)
}

// pureBackend is the pure-Go client of pcscd's socket protocol.
type pureBackend struct{ socket string }

func (p pureBackend) open(ctx context.Context) (session, error) {
	c, err := dialWire(ctx, p.socket)
	if err != nil {
		return nil, err
	}
	return &pureSession{c: c, socket: p.socket}, nil
}

type pureSession struct {
	c      *wireConn
	socket string
}

func (s *pureSession) readers(ctx context.Context) ([]ReaderStatus, error) {
	st, err := s.c.readerStates(ctx)
	if err != nil {
		return nil, err
	}
	return statusesFromRaw(st), nil
}

func (s *pureSession) wait(ctx context.Context, known []ReaderStatus) error {
	return s.c.waitChange(ctx, known)
}

func (s *pureSession) connect(ctx context.Context, name string) (handle, error) {
	c, err := dialWire(ctx, s.socket)
	if err != nil {
		return nil, err
	}
	h, proto, err := c.connect(ctx, name)
	if err != nil {
		c.close()
		return nil, err
	}
	return &pureHandle{c: c, h: h, proto: proto}, nil
}

func (s *pureSession) close() error { return s.c.close() }

type pureHandle struct {
	c     *wireConn
	h     int32
	proto uint32
}

func (h *pureHandle) transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	return h.c.transmit(ctx, h.h, h.proto, apdu)
}

func (h *pureHandle) status(ctx context.Context) error { return h.c.status(ctx, h.h) }

func (h *pureHandle) disconnect() error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultIOTimeout)
	defer cancel()
	err := h.c.disconnect(ctx, h.h)
	if cerr := h.c.close(); err == nil {
		err = cerr
	}
	return err
}
