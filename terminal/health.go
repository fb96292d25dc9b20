package terminal

import (
	"encoding/hex"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal/policy"
)

// Health is what GET /v1/health answers: whether the terminal does its
// work and, if not, why (its holds), with the state the holds are decided
// on, for the technician and the rig.
type Health struct {
	Device string `json:"device"`
	Kind   string `json:"kind"`
	// Working: a POS takes money, a gate passes cards (no hold stops it).
	Working bool `json:"working"`
	// Holds are the holds in force, most serious first (never null).
	Holds      []HealthHold     `json:"holds"`
	StatusList HealthStatusList `json:"status_list"`
	Rules      HealthRules      `json:"rules"`
	Sync       HealthSync       `json:"sync"`
	Journal    HealthJournal    `json:"journal"`
	// Readers are the configured readers and whether each runs now (never
	// null): what `yktd selftest` reports beside the running daemon.
	Readers []HealthReader `json:"readers"`
	// PSAM is the device's binding to its PSAM (absent on a device
	// without a SAM).
	PSAM *HealthPSAM `json:"psam,omitempty"`
	// Errors lists what could not be read from the store.
	Errors []string `json:"errors,omitempty"`
}

// HealthHold is one hold in force.
type HealthHold struct {
	Code string `json:"code"`
	// Gate: it stops gate passes too (every hold stops money).
	Gate   bool      `json:"gate"`
	Since  time.Time `json:"since,omitzero"`
	Detail string    `json:"detail,omitempty"`
	// Seq is the hold's journal record: the first broken record of
	// chain_broken, the alarm of tampered, the psam-held record of
	// psam_binding.
	Seq uint64 `json:"seq,omitempty"`
	ZH  string `json:"zh"`
	EN  string `json:"en"`
}

// HealthStatusList is the status list held (version 0: none).
type HealthStatusList struct {
	Version uint64 `json:"version"`
	Cards   uint64 `json:"cards"`
}

// HealthRules is the signed rules held (version 0: none).
type HealthRules struct {
	Version uint64 `json:"version"`
}

// HealthReader is one configured reader: Up while its driver runs (the
// reader manager restarts one that failed).
type HealthReader struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
}

// HealthSync is the terminal's standing with the ledger.
type HealthSync struct {
	// Configured: a ledger is configured and the sync client runs.
	Configured  bool      `json:"configured"`
	LastContact time.Time `json:"last_contact,omitzero"`
	// MaxOffline is the offline limit ("" when none applies).
	MaxOffline string    `json:"max_offline,omitempty"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
}

// HealthPSAM is the device's binding to its PSAM (issue 16): terminal ids
// in hex.
type HealthPSAM struct {
	// Bound is the terminal id bound to the device ("" none yet), Present
	// that of the PSAM read in it ("" none read).
	Bound   string `json:"bound,omitempty"`
	Present string `json:"present,omitempty"`
	// LedgerHeld: the ledger holds the device (since LedgerHeldAt);
	// Swapped: the PSAM present is not the bound one (since SwappedAt).
	LedgerHeld   bool      `json:"ledger_held"`
	LedgerHeldAt time.Time `json:"ledger_held_at,omitzero"`
	Swapped      bool      `json:"swapped"`
	SwappedAt    time.Time `json:"swapped_at,omitzero"`
}

// HealthJournal is the journal's state.
type HealthJournal struct {
	Head         uint64 `json:"head"`
	AckedThrough uint64 `json:"acked_through"`
	Unacked      uint64 `json:"unacked"`
	// ChainOK is false when the chain from the acknowledged record to
	// the head did not verify at start (BrokenAt names the record).
	ChainOK  bool   `json:"chain_ok"`
	BrokenAt uint64 `json:"broken_at,omitempty"`
	// Capacity is the store's capacity level: "ok", "nearly_full" or
	// "full" (new purchases refused); MaxUnacked the cap on Unacked.
	Capacity   string `json:"capacity"`
	MaxUnacked uint64 `json:"max_unacked"`
}

// CapacityName is the name of a capacity level in GET /v1/health.
func CapacityName(l offline.Level) string {
	switch l {
	case offline.LevelOK:
		return "ok"
	case offline.LevelNearlyFull:
		return "nearly_full"
	}
	return "full"
}

// Health reads the terminal's health: its holds, refreshed from the
// store, and the state they are decided on.
func (d *Daemon) Health() Health {
	h := Health{Device: d.cfg.Device.ID, Kind: d.cfg.Device.Kind, Holds: []HealthHold{}}
	fail := func(err error) { h.Errors = append(h.Errors, err.Error()) }
	if err := d.refreshHolds(); err != nil {
		fail(err)
	}
	now := d.deps.Now()
	_, held := d.workHold(now)
	h.Working = !held && len(h.Errors) == 0
	h.Journal.ChainOK = true
	for _, x := range d.holds.Active(now) {
		h.Holds = append(h.Holds, HealthHold{Code: string(x.Code), Gate: x.Gate, Since: x.Since, Detail: x.Detail,
			Seq: x.Seq, ZH: x.Message.ZH, EN: x.Message.EN})
		if x.Code == policy.CodeChainBroken {
			h.Journal.ChainOK, h.Journal.BrokenAt = false, x.Seq
		}
	}
	st := d.holds.State()
	h.Sync = HealthSync{Configured: d.deps.Sync != nil, LastContact: st.LastContact, Revoked: st.Revoked}
	if st.MaxOffline > 0 {
		h.Sync.MaxOffline = st.MaxOffline.String()
	}
	if ss, err := d.deps.Store.SyncState(); err == nil {
		h.Sync.RevokedAt = ss.RevokedAt
	}
	if d.deps.SAM != nil {
		if ps, err := d.deps.Store.PSAMState(); err != nil {
			fail(err)
		} else {
			h.PSAM = &HealthPSAM{Bound: hex.EncodeToString(ps.Bound), Present: hex.EncodeToString(d.psam.get()), LedgerHeld: ps.LedgerHeld,
				LedgerHeldAt: ps.LedgerHeldAt, Swapped: ps.Swapped != nil, SwappedAt: ps.SwappedAt}
		}
	}
	if si, err := d.deps.Store.StatusInfo(); err != nil {
		fail(err)
	} else {
		h.StatusList = HealthStatusList{Version: si.Version, Cards: si.Count}
	}
	if hd, err := d.deps.Store.Head(); err != nil {
		fail(err)
	} else {
		h.Journal.Head = hd.Seq
	}
	if c, err := d.deps.Store.SyncCursor(); err != nil {
		fail(err)
	} else {
		h.Journal.AckedThrough = c.Seq
		h.Journal.Unacked = h.Journal.Head - min(c.Seq, h.Journal.Head)
	}
	if c, err := d.deps.Store.Capacity(); err != nil {
		fail(err)
	} else {
		h.Journal.Capacity, h.Journal.MaxUnacked = CapacityName(c.Level), c.MaxUnacked
	}
	if v, _, err := d.deps.Store.RulesVersion(); err != nil {
		fail(err)
	} else {
		h.Rules.Version = v
	}
	h.Readers = d.readersUp()
	return h
}

// readersUp lists the configured readers and whether each runs now.
func (d *Daemon) readersUp() []HealthReader {
	out := make([]HealthReader, 0, len(d.deps.Readers))
	d.metrics.mu.Lock()
	defer d.metrics.mu.Unlock()
	for _, r := range d.deps.Readers {
		out = append(out, HealthReader{Name: r.Name(), Up: d.metrics.readers[r.Name()]})
	}
	return out
}
