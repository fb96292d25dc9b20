package terminal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Holds are the terminal's money holds: reasons found in its own state,
// not in a card, for which it takes no money (and, for some, lets no card
// through a gate): no signed status list yet, too long without reaching
// the ledger, the device revoked, the journal's chain broken (policy's
// DeviceState and its codes). Each hold has a stable code and a display
// message; the daemon journals the ones that are evidence and shows all of
// them in /v1/health. The POS and the gate ask Money or Gate before each
// sale or pass. Holds is safe for concurrent use.
type Holds struct {
	mu    sync.Mutex
	now   func() time.Time
	st    policy.DeviceState
	since map[policy.Code]time.Time
	chain chainBreak
}

type chainBreak struct {
	seq    uint64
	reason string
}

// Hold is one hold in force.
type Hold struct {
	// Code is the hold's stable reason (policy.CodeNoStatusList, ...).
	Code policy.Code
	// Gate: the hold stops gate passes too (policy.StopsGate).
	Gate bool
	// Since is when the hold went on, as far as this terminal knows.
	Since time.Time
	// Detail says more for the technician (the broken sequence, the last
	// contact); "" when the code says it all.
	Detail string
	// Seq is the first broken journal sequence of CodeChainBroken.
	Seq uint64
	// Message is what the display shows.
	Message ui.Message
}

// NewHolds returns the holds of a terminal that knows nothing yet: no
// status list (until SetStatusList), no contact with the ledger, not
// revoked, chain not checked. maxOffline is sync.max_offline (0: no
// limit); now is the clock (nil: time.Now).
func NewHolds(now func() time.Time, maxOffline time.Duration) *Holds {
	if now == nil {
		now = time.Now
	}
	h := &Holds{now: now, since: map[policy.Code]time.Time{}}
	h.st.MaxOffline = maxOffline
	h.since[policy.CodeNoStatusList] = now()
	return h
}

// SetStatusList records whether a signed status list is held.
func (h *Holds) SetStatusList(held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.StatusList = held
	h.mark(policy.CodeNoStatusList, !held)
}

// StatusList reports whether a signed status list is known to be held.
func (h *Holds) StatusList() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.StatusList
}

// SetContact records the last successful exchange with the ledger (zero:
// none known).
func (h *Holds) SetContact(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.LastContact = t
}

// SetRevoked records whether the ledger revoked the device, and since when.
func (h *Holds) SetRevoked(revoked bool, since time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.Revoked = revoked
	if revoked && !since.IsZero() {
		h.since[policy.CodeDeviceRevoked] = since
		return
	}
	h.mark(policy.CodeDeviceRevoked, revoked)
}

// SetChainBroken records that the journal's chain breaks at sequence seq
// (reason says how).
func (h *Holds) SetChainBroken(seq uint64, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.ChainBroken = true
	h.chain = chainBreak{seq: seq, reason: reason}
	h.mark(policy.CodeChainBroken, true)
}

// mark keeps when code went on. h.mu is held.
func (h *Holds) mark(code policy.Code, on bool) {
	if !on {
		delete(h.since, code)
		return
	}
	if _, ok := h.since[code]; !ok {
		h.since[code] = h.now()
	}
}

// State returns the device state the holds are decided on.
func (h *Holds) State() policy.DeviceState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

// Money returns the hold that stops money at now, if any.
func (h *Holds) Money(now time.Time) (Hold, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.st.MoneyHold(now)
	if c == policy.CodeOK {
		return Hold{}, false
	}
	return h.hold(c), true
}

// Gate returns the hold that stops gate passes at now, if any.
func (h *Holds) Gate(now time.Time) (Hold, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.st.GateHold(now)
	if c == policy.CodeOK {
		return Hold{}, false
	}
	return h.hold(c), true
}

// Active returns every hold in force at now, most serious first.
func (h *Holds) Active(now time.Time) []Hold {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Hold
	for _, c := range h.st.Holds(now) {
		out = append(out, h.hold(c))
	}
	return out
}

// hold describes hold c. h.mu is held.
func (h *Holds) hold(c policy.Code) Hold {
	out := Hold{Code: c, Gate: policy.StopsGate(c), Since: h.since[c], Message: ui.Text(ui.Code(c))}
	switch c {
	case policy.CodeChainBroken:
		out.Seq = h.chain.seq
		out.Detail = h.chain.reason
		out.Message = ui.ChainBroken(h.chain.seq)
	case policy.CodeOfflineTooLong:
		out.Since = h.st.OfflineSince()
		out.Detail = "last exchange with the ledger " + h.st.LastContact.UTC().Format(time.RFC3339)
		out.Message = ui.OfflineTooLong(int(h.st.MaxOffline / (24 * time.Hour)))
	}
	return out
}

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
	d.holds = NewHolds(d.deps.Now, maxOffline)
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
	return nil
}

// watchHolds follows the holds until ctx ends: it journals a revocation
// once (a device-revoked record), and tells the display and the log when
// the hold that stops this terminal's work changes.
func (d *Daemon) watchHolds(ctx context.Context) {
	t := time.NewTicker(HoldsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.refreshHolds(); err != nil {
			d.log.Error("holds: store", "err", err)
			continue
		}
		d.journalRevocation()
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
// POS, passes on a gate.
func (d *Daemon) workHold(now time.Time) (Hold, bool) {
	if d.gate != nil {
		return d.holds.Gate(now)
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
