package terminal

import (
	"bytes"
	"context"
	"encoding/hex"
	"sync"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// psamReadTimeout bounds the read of the PSAM's terminal id by a check.
const psamReadTimeout = time.Second

// psamCheck is what the daemon knows of the PSAM in the device: the
// terminal id it last read and compared with the store's binding.
type psamCheck struct {
	mu      sync.Mutex
	present []byte // terminal id of the PSAM last read (nil: none read)
	checked bool   // present was compared with the store's binding
}

func (c *psamCheck) get() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.present
}

// checkPSAM compares the terminal id of the PSAM in the device with the
// one bound to it (offline.Store.CheckPSAM), at start and whenever the id
// read changes (a PSAM swapped in a slot): another PSAM than the bound
// one holds the terminal (psam_binding) at once, without waiting for the
// ledger. A device without a SAM, or whose PSAM cannot be read (a slot
// without a PSAM refuses sales as a SAM fault anyway), is not checked.
func (d *Daemon) checkPSAM(ctx context.Context) error {
	if d.deps.SAM == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, psamReadTimeout)
	tid, err := d.deps.SAM.TerminalID(rctx)
	cancel()
	if err != nil {
		return nil
	}
	d.psam.mu.Lock()
	same := d.psam.checked && bytes.Equal(d.psam.present, tid[:])
	d.psam.mu.Unlock()
	if same {
		return nil
	}
	before, err := d.deps.Store.PSAMState()
	if err != nil {
		return err
	}
	st, err := d.deps.Store.CheckPSAM(tid[:], d.deps.Now())
	if err != nil {
		return err
	}
	d.psam.mu.Lock()
	d.psam.present, d.psam.checked = bytes.Clone(tid[:]), true
	d.psam.mu.Unlock()
	switch {
	case before.Bound == nil:
		d.log.Info("PSAM bound to this device", "terminal_id", hex.EncodeToString(tid[:]))
	case st.Swapped != nil && !bytes.Equal(before.Swapped, st.Swapped):
		d.log.Error("PSAM SWAPPED: the PSAM in this device is not the one bound to it; no money until it is back or the operator re-binds the device (ledgerd device rebind)",
			"terminal_id", hex.EncodeToString(st.Swapped), "bound", hex.EncodeToString(st.Bound))
	case before.Swapped != nil && st.Swapped == nil:
		d.log.Warn("the bound PSAM is back in this device", "terminal_id", hex.EncodeToString(tid[:]))
	}
	return nil
}

// refreshPSAM reads the PSAM binding's hold from the store.
func (d *Daemon) refreshPSAM() error {
	st, err := d.deps.Store.PSAMState()
	if err != nil {
		return err
	}
	d.holds.SetPSAM(st.Held(), st.Since(), psamDetail(st), st.HeldSeq)
	return nil
}

// psamDetail says for the technician why the PSAM binding holds the
// terminal.
func psamDetail(st offline.PSAMState) string {
	switch {
	case st.Swapped != nil:
		return "the PSAM in the device (terminal id " + hex.EncodeToString(st.Swapped) + ") is not the one bound to it (" +
			hex.EncodeToString(st.Bound) + "): put that one back, or have the operator re-bind the device (ledgerd device rebind)"
	case st.LedgerHeld:
		return "the ledger holds this device: its PSAM is bound to another device there, or a record carried another PSAM; the operator re-binds it (ledgerd device rebind)"
	}
	return ""
}

// journalPSAM journals the PSAM binding's hold once it is on (a
// psam-held record naming the PSAM in the device), and its end once it is
// off (psam-released naming the PSAM bound now).
func (d *Daemon) journalPSAM() {
	st, err := d.deps.Store.PSAMState()
	if err != nil {
		return
	}
	switch {
	case st.Held() && st.HeldSeq == 0:
		r := protocol.Record{Kind: protocol.KindPSAMHeld, Reason: offline.ReasonPSAMLedger, TerminalID: d.psam.get()}
		if st.Swapped != nil {
			r.Reason, r.TerminalID = offline.ReasonPSAMSwapped, st.Swapped
		}
		if r.TerminalID == nil {
			r.TerminalID = st.Bound
		}
		seq, err := d.deps.Store.JournalPSAMHeld(r)
		if err != nil {
			d.log.Error("could not journal the PSAM binding's hold", "err", err)
			return
		}
		d.log.Error("PSAM not bound to this device: no more sales; journaled", "seq", seq, "reason", r.Reason)
	case !st.Held() && st.HeldSeq != 0:
		seq, err := d.deps.Store.JournalPSAMReleased(protocol.Record{Kind: protocol.KindPSAMReleased, Reason: offline.ReasonPSAMBound, TerminalID: st.Bound})
		if err != nil {
			d.log.Error("could not journal the end of the PSAM binding's hold", "err", err)
			return
		}
		d.log.Warn("the PSAM is bound to this device again: sales resume; journaled", "seq", seq, "held_from", st.HeldSeq)
	}
}
