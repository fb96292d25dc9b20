package terminal

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/openykt/yktd/reader/epurse"
)

// PSAM and clock metrics: yktd_psam_up follows the PSAM's last answer (a
// SAM in a PC/SC slot that stops answering shows 0 at the next sale, not
// at the next restart) and yktd_clock_skew_seconds the device clock against
// the ledger's, measured at the last acknowledged upload.

// psamState is what the PSAM's last command said: 0 no command yet, 1 it
// answered, 2 it failed.
type psamState struct {
	state  atomic.Int32
	errors atomic.Uint64
}

// note records the outcome of one PSAM command. A refused MAC2 (the card's
// fault) and a missing system-PIN key (the configuration's) are answers:
// the PSAM is up. A cancelled context says nothing about it.
func (p *psamState) note(err error) {
	switch {
	case err == nil, errors.Is(err, epurse.ErrMACInvalid), errors.Is(err, epurse.ErrNoSystemPIN):
		p.state.Store(1)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	default:
		p.state.Store(2)
		p.errors.Add(1)
	}
}

// watchSAM wraps s so that every command updates p; the wrapper gives the
// card's system PIN exactly when s does (a kiosk needs it).
func watchSAM(s epurse.SAM, p *psamState) epurse.SAM {
	if s == nil {
		return nil
	}
	w := watchedSAM{inner: s, p: p}
	if src, ok := s.(epurse.SystemPINSource); ok {
		return watchedPINSAM{watchedSAM: w, src: src}
	}
	return w
}

type watchedSAM struct {
	inner epurse.SAM
	p     *psamState
}

func (w watchedSAM) TerminalID(ctx context.Context) ([6]byte, error) {
	id, err := w.inner.TerminalID(ctx)
	w.p.note(err)
	return id, err
}

func (w watchedSAM) InitPurchase(ctx context.Context, req epurse.SAMPurchaseRequest) (uint32, [4]byte, error) {
	seq, mac, err := w.inner.InitPurchase(ctx, req)
	w.p.note(err)
	return seq, mac, err
}

func (w watchedSAM) VerifyMAC2(ctx context.Context, mac2 [4]byte) error {
	err := w.inner.VerifyMAC2(ctx, mac2)
	w.p.note(err)
	return err
}

type watchedPINSAM struct {
	watchedSAM
	src epurse.SystemPINSource
}

func (w watchedPINSAM) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	pin, err := w.src.SystemPIN(ctx, req)
	w.p.note(err)
	return pin, err
}

// ClockSkewer is a Syncer that measured the device clock against the
// ledger's (syncclient.Client): the skew is device minus ledger at the
// last acknowledged upload; ok is false before the first.
type ClockSkewer interface {
	ClockSkew() (skew time.Duration, at time.Time, ok bool)
}
