package syncclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
)

// Run syncs until ctx ends: each round uploads the journal (SyncOnce) and
// pulls the status list and the rules, then waits Options.Interval; after a
// failed round it waits a backoff (growing, jittered, capped at
// BackoffMax) instead. An upload FatalError (fork, broken chain, ledger
// behind or ahead) halts uploading for good (Halted reports it, logged
// at every round) while downloads continue, so that a gate keeps
// receiving lost-card lists; the ledger not knowing the device ends Run
// with that FatalError.
//
// A device the ledger holds for its PSAM binding (ErrDeviceHeld, recorded
// in the HoldSink) is treated like a revoked one: its journal uploads, and
// a status or rules answer tells it when the hold is lifted.
//
// A revoked device (ErrDeviceRevoked, recorded in Options.State) is not an
// end: every round still uploads what the journal holds, so that the
// records it made, and those it makes while it refuses cards, reach the
// ledger for collection; and it still asks for the status list, so that it
// learns when the ledger serves it again. A ledger that refuses the
// revoked device's batches too halts uploading (Halted, and the log says
// to export the journal). Run returns ctx's error when ctx ends.
func (c *Client) Run(ctx context.Context) error {
	var failedSince time.Time
	failures := 0
	for {
		err := c.round(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		switch {
		case err != nil && IsFatal(err):
			return err
		case err != nil:
			wait = c.boff.next()
			if failures == 0 {
				failedSince = c.o.Clock.Now()
				c.log.Warn("sync round failed; retrying with backoff (further failures of this outage are logged at debug)",
					"err", err, "retry_in", wait.Round(time.Millisecond).String())
			} else {
				c.log.Debug("sync round failed; will retry", "err", err, "retry_in", wait.Round(time.Millisecond).String())
			}
			failures++
		default:
			if failures > 0 {
				c.log.Info("ledger reachable again", "outage", c.o.Clock.Now().Sub(failedSince).Round(time.Second).String(),
					"failed_rounds", failures)
			}
			failures = 0
			c.boff.reset()
			wait = c.o.Interval
		}
		if err := sleep(ctx, c.o.Clock, wait); err != nil {
			return err
		}
	}
}

// Flush uploads what the journal holds (SyncOnce), unless uploading was
// halted or the device is not enrolled: what a terminal does before it
// stops, with the deadline of ctx bounding it. It logs what it uploaded.
func (c *Client) Flush(ctx context.Context) error {
	if h := c.Halted(); h != nil {
		return fmt.Errorf("syncclient: flush: upload halted: %w", h)
	}
	res, err := c.SyncOnce(ctx)
	if res.Records > 0 {
		c.log.Info("journal uploaded before stopping", "records", res.Records, "acked_through", res.Cursor, "head", res.Head)
	}
	if err != nil {
		return fmt.Errorf("syncclient: flush: %w", err)
	}
	return nil
}

// Halted returns the error that halted uploading, or nil.
func (c *Client) Halted() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted
}

func (c *Client) halt(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.halted = err
}

// isDeviceUnknown: a FatalError because the ledger does not know the device.
func isDeviceUnknown(err error) bool {
	return IsFatal(err) && errors.Is(err, protocol.ErrUnknownDevice)
}

// round runs one upload and the downloads. It returns a FatalError only
// for a device the ledger does not know; other errors are joined. A
// revocation is no error of the round (it is recorded; the round did what
// a revoked device can do).
func (c *Client) round(ctx context.Context) error {
	var errs []error
	if c.Halted() == nil {
		res, err := c.SyncOnce(ctx)
		if res.Records > 0 {
			c.log.Debug("journal uploaded", "records", res.Records, "batches", res.Batches, "acked_through", res.Cursor, "head", res.Head)
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrDeviceRevoked):
			c.halt(err)
			c.log.Error("the ledger refuses the revoked device's journal too (it does not collect revoked devices' records): upload stopped; collect the journal with `yktd journal export` for the operator",
				"acked_through", res.Cursor, "head", res.Head)
		case isDeviceUnknown(err):
			return err
		case IsFatal(err):
			c.halt(err)
		default:
			errs = append(errs, err)
		}
	}
	if h := c.Halted(); h != nil && !errors.Is(h, ErrDeviceRevoked) {
		c.log.Error("journal upload halted: the ledger and this journal disagree; call the operator", "err", h)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, pull := range []func(context.Context) (PullResult, error){c.PullStatus, c.PullRules} {
		_, err := pull(ctx)
		switch {
		case err == nil:
		case IsFatal(err):
			return err
		case errors.Is(err, ErrDeviceRevoked), errors.Is(err, ErrDeviceHeld):
			return errors.Join(errs...) // nothing more to ask for
		default:
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
