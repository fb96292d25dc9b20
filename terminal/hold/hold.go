// Package hold keeps a terminal's money holds: the reasons found in the
// device's own state, not in a card, for which it takes no money or lets
// nobody through. The daemon (package terminal) decides them from the
// store; the POS (terminal/pos) and the gate (terminal/gate) ask before
// each sale or pass.
package hold

import (
	"sync"
	"time"

	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Holds are the terminal's money holds: reasons found in its own state,
// not in a card, for which it takes no money (and, for some, lets no card
// through a gate): no signed status list yet, too long without reaching
// the ledger, the device revoked, the journal's chain broken, the case
// opened, the PSAM not bound to the device (policy's DeviceState and its
// codes). Each hold has a stable code and a display
// message; the daemon journals the ones that are evidence and shows all of
// them in /v1/health. The POS and the gate ask Money or Gate before each
// sale or pass. Holds is safe for concurrent use.
type Holds struct {
	mu    sync.Mutex
	now   func() time.Time
	st    policy.DeviceState
	since map[policy.Code]time.Time
	chain chainBreak
	// tamperSeq is the alarm record of the tamper hold (0 none).
	tamperSeq uint64
	// psam says why the PSAM binding holds the terminal ("" none).
	psam psamHold
}

type psamHold struct {
	detail string
	seq    uint64
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
	// Seq is the journal record of the hold: the first broken sequence
	// of CodeChainBroken, the alarm of CodeTampered, the psam-held record
	// of CodePSAMBinding (0: none).
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

// SetTampered records whether a tamper alarm (the case-open input) is
// set and not cleared; seq is its alarm record.
func (h *Holds) SetTampered(on bool, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.Tampered = on
	h.tamperSeq = seq
	h.mark(policy.CodeTampered, on)
}

// SetPSAM records whether the PSAM binding stops money (the ledger holds
// the device, or the PSAM found is not the one bound to it), since when,
// why (detail, for the technician) and its psam-held record (seq, 0 not
// yet journaled).
func (h *Holds) SetPSAM(held bool, since time.Time, detail string, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.PSAMUnbound = held
	h.psam = psamHold{}
	if !held {
		h.mark(policy.CodePSAMBinding, false)
		return
	}
	h.psam = psamHold{detail: detail, seq: seq}
	if !since.IsZero() {
		h.since[policy.CodePSAMBinding] = since
		return
	}
	h.mark(policy.CodePSAMBinding, true)
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

// Kiosk returns the hold that stops a kiosk's loads at now, if any
// (policy.DeviceState.KioskHold).
func (h *Holds) Kiosk(now time.Time) (Hold, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.st.KioskHold(now)
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
	case policy.CodeTampered:
		out.Seq = h.tamperSeq
		out.Detail = "the case-open / tamper input went active: a technician clears it (POST /v1/tamper/clear)"
	case policy.CodeChainBroken:
		out.Seq = h.chain.seq
		out.Detail = h.chain.reason
		out.Message = ui.ChainBroken(h.chain.seq)
	case policy.CodePSAMBinding:
		out.Detail = h.psam.detail
		out.Seq = h.psam.seq
	case policy.CodeOfflineTooLong:
		out.Since = h.st.OfflineSince()
		out.Detail = "last exchange with the ledger " + h.st.LastContact.UTC().Format(time.RFC3339)
		out.Message = ui.OfflineTooLong(int(h.st.MaxOffline / (24 * time.Hour)))
	}
	return out
}
