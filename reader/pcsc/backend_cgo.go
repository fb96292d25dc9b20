//go:build cgo

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/openykt/yktd/reader"
)

const cgoAvailable = true

// pnpNotification is the pseudo reader whose state changes when readers
// are added or removed (pcsc-lite: the high 16 bits of its current state
// carry the number of readers the caller knows).
const pnpNotification = `\\?PnP?\Notification`

func newCgoBackend() backend { return cgoBackend{} }

// cgoBackend is libpcsclite through github.com/ebfe/scard.
type cgoBackend struct{}

func (cgoBackend) open(ctx context.Context) (session, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(ctx)
	}
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, scardError("establish context", err)
	}
	return &cgoSession{c: c, last: map[string]scard.StateFlag{}}, nil
}

// scardError maps an ebfe/scard error onto *Error (same codes as pcscd's).
func scardError(op string, err error) error {
	var se scard.Error
	if errors.As(err, &se) {
		return rvError(op, uint32(se))
	}
	return fmt.Errorf("pcsc: %s: %w: %w", op, reader.ErrTransport, err)
}

type cgoSession struct {
	c    *scard.Context
	mu   sync.Mutex
	last map[string]scard.StateFlag // event state seen by readers()
}

func (s *cgoSession) readers(ctx context.Context) ([]ReaderStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, err := s.c.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		clear(s.last)
		return nil, nil
	}
	if err != nil {
		return nil, scardError("list readers", err)
	}
	rs := make([]scard.ReaderState, len(names))
	for i, n := range names {
		rs[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
	}
	if err := s.c.GetStatusChange(rs, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return nil, scardError("get status change", err)
	}
	clear(s.last)
	out := make([]ReaderStatus, 0, len(rs))
	for _, r := range rs {
		if r.EventState&(scard.StateUnknown|scard.StateIgnore) != 0 {
			continue // vanished between the list and the query
		}
		s.last[r.Reader] = r.EventState &^ scard.StateChanged
		st := ReaderStatus{
			Name:      r.Reader,
			Present:   r.EventState&scard.StatePresent != 0,
			Mute:      r.EventState&scard.StateMute != 0,
			InUse:     r.EventState&scard.StateInuse != 0,
			Exclusive: r.EventState&scard.StateExclusive != 0,
			Events:    uint32(r.EventState) >> 16,
		}
		if st.Present {
			st.ATR = append([]byte(nil), r.Atr...)
		}
		out = append(out, st)
	}
	return out, nil
}

// wait runs SCardGetStatusChange over the known readers plus the PnP
// pseudo reader, with no timeout; ctx.Done interrupts it with SCardCancel.
func (s *cgoSession) wait(ctx context.Context, known []ReaderStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := make([]scard.ReaderState, 0, len(known)+1)
	for _, k := range known {
		cur, ok := s.last[k.Name]
		if !ok {
			return nil // not seen by readers(): let the caller re-read
		}
		rs = append(rs, scard.ReaderState{Reader: k.Name, CurrentState: cur})
	}
	rs = append(rs, scard.ReaderState{Reader: pnpNotification, CurrentState: scard.StateFlag(len(known) << 16)})
	done := make(chan error, 1)
	go func() { done <- s.c.GetStatusChange(rs, -1) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		if cerr := s.cancelWait(done); cerr != nil {
			return cerr
		}
	}
	switch {
	case ctx.Err() != nil:
		return ctxErr(ctx)
	case err == nil, errors.Is(err, scard.ErrTimeout):
		return nil
	case errors.Is(err, scard.ErrUnknownReader):
		return nil // a reader vanished: re-read
	}
	return scardError("get status change", err)
}

// cancelWait interrupts the SCardGetStatusChange whose result done
// carries and waits for it to return. SCardCancel interrupts a call that
// is waiting; one sent before the goroutine entered the call is lost, and
// the call would then wait for ever: it cancels again until the call
// returns.
func (s *cgoSession) cancelWait(done <-chan error) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := s.c.Cancel(); err != nil {
			return scardError("cancel", err)
		}
		select {
		case <-done:
			return nil
		case <-t.C:
		}
	}
}

func (s *cgoSession) connect(ctx context.Context, name string) (handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(ctx)
	}
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, scardError("establish context", err)
	}
	card, err := c.Connect(name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		c.Release()
		return nil, scardError("connect "+name, err)
	}
	return &cgoHandle{c: c, card: card}, nil
}

func (s *cgoSession) close() error {
	if err := s.c.Release(); err != nil {
		return scardError("release context", err)
	}
	return nil
}

type cgoHandle struct {
	c    *scard.Context
	card *scard.Card
}

// transmit is SCardTransmit. libpcsclite cannot interrupt a transmit, so
// ctx is checked before the call and pcscd's own timeouts bound it.
func (h *cgoHandle) transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(ctx)
	}
	rsp, err := h.card.Transmit(apdu)
	if err != nil {
		return nil, scardError("transmit", err)
	}
	return rsp, nil
}

func (h *cgoHandle) status(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return ctxErr(ctx)
	}
	if _, err := h.card.Status(); err != nil {
		return scardError("status", err)
	}
	return nil
}

func (h *cgoHandle) disconnect() error {
	err := h.card.Disconnect(scard.LeaveCard)
	if rerr := h.c.Release(); err == nil {
		err = rerr
	}
	if err != nil {
		return scardError("disconnect", err)
	}
	return nil
}
