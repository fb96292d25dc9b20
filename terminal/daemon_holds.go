package terminal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/ui"
)

// HoldsInterval is how often the daemon re-reads the state its holds are
// decided on (the status list, the standing with the ledger the sync
// client records) and the clock of the offline limit.
const HoldsInterval = time.Second

// initHolds decides the holds at start: the journal's chain from the last
// acknowledged record to the head (bounded by the unacknowledged records),
// the status list, the standing with the ledger. A store that cannot be
// read is an error: the daemon does not start.
func (d *Daemon) initHolds() error {
	maxOffline := time.Duration(0)
	if d.deps.Sync != nil || d.cfg.Sync.Ledger != "" {
		maxOffline = d.cfg.Sync.MaxOffline.D()
		if maxOffline <= 0 {
			maxOffline = config.DefaultMaxOffline
		}
	}
	d.holds = hold.NewHolds(d.deps.Now, maxOffline)
	res, err := d.deps.Store.VerifyTail()
	var ce *offline.ChainError
	switch {
	case errors.As(err, &ce):
		d.holds.SetChainBroken(ce.Seq, ce.Reason)
		d.log.Error("JOURNAL CHAIN BROKEN: this terminal takes no money until a technician looks (yktd journal verify)",
			"seq", ce.Seq, "reason", ce.Reason)
	case err != nil:
		return fmt.Errorf("terminal: daemon: verify the journal: %w", err)
	default:
		d.log.Debug("journal verified from the acknowledged record", "records", res.Count, "head", res.Head.Seq)
	}
	if err := d.initTamper(); err != nil {
		return fmt.Errorf("terminal: daemon: tamper state: %w", err)
	}
	if err := d.checkPSAM(context.Background()); err != nil {
		return fmt.Errorf("terminal: daemon: PSAM binding: %w", err)
	}
	if err := d.refreshHolds(); err != nil {
		return err
	}
	if st := d.holds.State(); maxOffline > 0 && st.LastContact.IsZero() && st.StatusList {
		// A list but no exchange recorded (a store from before the
		// offline limit, or a list applied by hand): the limit counts
		// from this start rather than never.
		if err := d.deps.Store.RecordContact(d.deps.Now()); err != nil {
			return fmt.Errorf("terminal: daemon: start the offline clock: %w", err)
		}
		d.log.Warn("no exchange with the ledger recorded: the offline limit counts from now", "max_offline", maxOffline.String())
		return d.refreshHolds()
	}
	return nil
}

// refreshHolds reads the state the holds are decided on from the store.
func (d *Daemon) refreshHolds() error {
	if !d.holds.StatusList() {
		si, err := d.deps.Store.StatusInfo()
		if err != nil {
			return fmt.Errorf("terminal: daemon: status list: %w", err)
		}
		d.holds.SetStatusList(si.Version > 0)
	}
	st, err := d.deps.Store.SyncState()
	if err != nil {
		return fmt.Errorf("terminal: daemon: sync state: %w", err)
	}
	d.holds.SetContact(st.LastContact)
	d.holds.SetRevoked(st.Revoked, st.RevokedAt)
	return d.refreshPSAM()
}

// watchHolds follows the holds until ctx ends: it checks the PSAM in the
// device against the one bound to it, journals a revocation once (a
// device-revoked record) and the PSAM binding's hold and its end, and
// tells the display and the log when the hold that stops this terminal's
// work changes.
func (d *Daemon) watchHolds(ctx context.Context) {
	t := time.NewTicker(HoldsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.checkPSAM(ctx); err != nil {
			d.log.Error("holds: PSAM binding", "err", err)
		}
		if err := d.refreshHolds(); err != nil {
			d.log.Error("holds: store", "err", err)
			continue
		}
		d.journalRevocation()
		d.journalPSAM()
		d.announceHold(ctx)
	}
}

// journalRevocation journals the device-revoked record of a revocation
// the sync client recorded, once (the store keeps its sequence).
func (d *Daemon) journalRevocation() {
	st, err := d.deps.Store.SyncState()
	if err != nil || !st.Revoked || st.RevokedSeq != 0 {
		return
	}
	seq, err := d.deps.Store.JournalRevoked(protocol.Record{Kind: protocol.KindDeviceRevoked, Reason: "ledger"})
	if err != nil {
		d.log.Error("could not journal the revocation", "err", err)
		return
	}
	d.log.Error("device revoked by the ledger: no more sales; journaled", "seq", seq, "since", st.RevokedAt)
}

// workHold is the hold that stops this terminal's work at now: money on a
// POS, loads on a kiosk, passes on a gate.
func (d *Daemon) workHold(now time.Time) (hold.Hold, bool) {
	if d.gate != nil {
		return d.holds.Gate(now)
	}
	if d.kiosk != nil {
		return d.holds.Kiosk(now)
	}
	return d.holds.Money(now)
}

// announceHold shows and logs a change of the hold that stops the
// terminal's work.
func (d *Daemon) announceHold(ctx context.Context) {
	h, on := d.workHold(d.deps.Now())
	d.holdMu.Lock()
	last := d.shownHold
	if on {
		d.shownHold = h.Code
	} else {
		d.shownHold = ""
	}
	d.holdMu.Unlock()
	switch {
	case on && h.Code != last:
		d.log.Warn("hold on: this terminal stops "+d.work(), "code", h.Code.String(), "detail", h.Detail)
		_ = d.deps.Display.Show(ctx, h.Message)
	case !on && last != "":
		d.log.Info("hold lifted", "code", last.String())
		_ = d.deps.Display.Show(ctx, ui.Idle())
	}
}

func (d *Daemon) work() string {
	if d.gate != nil {
		return "passing cards"
	}
	return "taking money"
}
