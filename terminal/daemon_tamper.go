package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/openykt/yktd/offline"
)

// initTamper reads the tamper alarm the store holds (a case opened
// before this start and not cleared stays in force).
func (d *Daemon) initTamper() error {
	seq, err := d.deps.Store.Tamper()
	if err != nil {
		return err
	}
	d.holds.SetTampered(seq != 0, seq)
	return nil
}

// watchTamper follows the case-open / tamper input (board.tamper) until
// ctx ends: each time it turns active the alarm is journaled (once until
// a technician clears it) and money stops.
func (d *Daemon) watchTamper(ctx context.Context) {
	if d.cfg.Board.Tamper == "" || d.deps.Board == nil {
		return
	}
	in, err := d.deps.Board.Input(d.cfg.Board.Tamper)
	if err != nil {
		d.log.Error("tamper input missing on the board: money stops", "input", d.cfg.Board.Tamper, "err", err)
		d.tamper(ctx)
		return
	}
	edges := in.Watch(ctx)
	if in.Active() {
		d.tamper(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-edges:
			if !ok {
				return
			}
			if e.Active {
				d.tamper(ctx)
			}
		}
	}
}

// tamper journals the tamper alarm and puts the hold on.
func (d *Daemon) tamper(ctx context.Context) {
	seq, err := d.deps.Store.JournalTamper()
	if err != nil {
		// The alarm could not be journaled: money stops all the same.
		d.log.Error("tamper alarm not journaled", "err", err)
	}
	d.holds.SetTampered(true, seq)
	d.log.Error("CASE OPENED (tamper input): this terminal takes no money until a technician clears it (POST /v1/tamper/clear)",
		"seq", seq)
	d.announceHold(ctx)
}

// serveTamperClear answers POST /v1/tamper/clear {"technician": "NAME"}:
// the technician clears the tamper alarm (journaled with the name) once
// the case is closed again.
func (d *Daemon) serveTamperClear(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Technician string `json:"technician"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"technician": "NAME"}`)
		return
	}
	if d.cfg.Board.Tamper != "" && d.deps.Board != nil {
		if in, err := d.deps.Board.Input(d.cfg.Board.Tamper); err == nil && in.Active() {
			writeError(w, http.StatusConflict, CtlTamperActive, "the case is still open (the tamper input is active): close it first")
			return
		}
	}
	seq, err := d.deps.Store.ClearTamper(body.Technician)
	switch {
	case errors.Is(err, offline.ErrIntentState):
		writeError(w, http.StatusConflict, CtlNoTamper, "no tamper alarm to clear")
		return
	case errors.Is(err, offline.ErrInvalid):
		writeError(w, http.StatusBadRequest, CtlBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, CtlStoreFault, "the store failed; see the log")
		return
	}
	d.holds.SetTampered(false, 0)
	d.log.Warn("tamper alarm cleared by a technician", "technician", body.Technician, "seq", seq)
	d.announceHold(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{"cleared": true, "seq": seq, "technician": body.Technician})
}
