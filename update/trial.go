package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Phases of the trial state.
const (
	PhaseNone       = ""            // no trial: current is committed
	PhaseTrial      = "trial"       // current is on trial
	PhaseCommitted  = "committed"   // the last trial committed
	PhaseRolledBack = "rolled_back" // the last trial was rolled back (Reason says why)
	PhaseAbandoned  = "abandoned"   // an install was cut before its switch
)

// State is the trial state file: the trial in progress, or how the last
// one ended.
type State struct {
	Phase       string `json:"phase"`
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	FromVersion string `json:"from_version,omitempty"`
	ToVersion   string `json:"to_version,omitempty"`
	Attempts    int    `json:"attempts"`
	MaxAttempts int    `json:"max_attempts,omitempty"`
	// PreCounted: the service's start hook (yktd update boot) counted the
	// coming start, so the binary itself does not count it again.
	PreCounted bool      `json:"pre_counted,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Ended      time.Time `json:"ended,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	// Last is the end of the previous trial, kept for the technician.
	Last *State `json:"last,omitempty"`
}

// Action is what a start does about the trial.
type Action int

// Actions of decideStart.
const (
	// ActNone: no trial concerns this start.
	ActNone Action = iota
	// ActTrial: the start is a counted trial attempt: health-check, then
	// Commit or Rollback.
	ActTrial
	// ActRollback: the trial ran out of attempts: roll back, do not run.
	ActRollback
	// ActAbandon: the state names a slot current does not point at (an
	// install cut before its switch): discard the trial.
	ActAbandon
	// ActFinishRollback: a rollback was recorded but the switch back was
	// cut: switch now, do not run.
	ActFinishRollback
)

// decideStart is the pure decision at a start: st the trial state,
// current the slot current points at, version the starting binary's
// version, pre whether the caller is the service's start hook (which runs
// before the binary and counts for it). It returns the action and the new
// state to write (write it when it differs).
func decideStart(st State, current, version string, pre bool) (Action, State) {
	switch st.Phase {
	case PhaseRolledBack:
		if current == st.To && st.From != "" {
			return ActFinishRollback, st
		}
		return ActNone, st
	case PhaseTrial:
	default:
		return ActNone, st
	}
	if current != st.To {
		return ActAbandon, ended(st, PhaseAbandoned, fmt.Sprintf("install of %s cut before the switch to slot %s", st.ToVersion, st.To))
	}
	if !pre && version != st.ToVersion {
		return ActNone, st // not the binary on trial (a technician's other yktd)
	}
	if st.Attempts >= st.MaxAttempts {
		return ActRollback, ended(st, PhaseRolledBack, fmt.Sprintf("%s started %d times without committing", st.ToVersion, st.Attempts))
	}
	switch {
	case pre:
		st.Attempts++
		st.PreCounted = true
	case st.PreCounted:
		st.PreCounted = false
	default:
		st.Attempts++
	}
	return ActTrial, st
}

func ended(st State, phase, reason string) State {
	st.Phase, st.Reason, st.PreCounted = phase, reason, false
	return st
}

// State reads the trial state (zero when there is none).
func (s *Slots) State() (State, error) {
	b, err := os.ReadFile(s.path(StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("update: trial state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("update: trial state %s: %w", s.path(StateFile), err)
	}
	return st, nil
}

func (s *Slots) writeState(st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return writeAtomic(s.path(StateFile), append(b, '\n'), 0o644)
}

// ErrRolledBack is returned by Start when this start rolled the trial
// back: the caller exits so that the supervisor starts the previous slot.
var ErrRolledBack = errors.New("update: trial rolled back")

// Start is the first thing a binary does (pre false) or the service's
// start hook before it (pre true): it counts the trial attempt, or rolls
// the trial back when it has had its attempts. It returns whether this
// start is a trial (then health-check, and Commit or Rollback), or
// ErrRolledBack (do not run). Slots that were never initialised are no
// trial.
func (s *Slots) Start(version string, pre bool) (trial bool, err error) {
	cur, err := s.Current()
	if errors.Is(err, ErrNoSlots) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st, err := s.State()
	if err != nil {
		return false, err
	}
	act, next := decideStart(st, cur, version, pre)
	switch act {
	case ActNone:
		return false, nil
	case ActAbandon:
		next.Ended = s.now().UTC()
		return false, s.writeState(next)
	case ActTrial:
		return true, s.writeState(next)
	case ActRollback:
		next.Ended = s.now().UTC()
		if err := s.writeState(next); err != nil {
			return false, err
		}
		fallthrough
	default: // ActFinishRollback
		if err := switchLink(s.path(CurrentLink), filepath.Join(slotsSubdir, next.From), nil); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: %s", ErrRolledBack, next.Reason)
	}
}

// Commit ends the trial of the current slot: it stays.
func (s *Slots) Commit() error {
	st, _, err := s.trial()
	if err != nil {
		return err
	}
	st = ended(st, PhaseCommitted, "")
	st.Ended = s.now().UTC()
	return s.writeState(st)
}

// Rollback ends the trial of the current slot and switches back to the
// previous one, recording why. The state is written first, so that a cut
// switch is finished at the next start.
func (s *Slots) Rollback(reason string) error {
	st, _, err := s.trial()
	if err != nil {
		return err
	}
	st = ended(st, PhaseRolledBack, reason)
	st.Ended = s.now().UTC()
	if err := s.writeState(st); err != nil {
		return err
	}
	return switchLink(s.path(CurrentLink), filepath.Join(slotsSubdir, st.From), nil)
}

// trial returns the trial in progress on the current slot.
func (s *Slots) trial() (State, string, error) {
	cur, err := s.Current()
	if err != nil {
		return State{}, "", err
	}
	st, err := s.State()
	if err != nil {
		return State{}, "", err
	}
	if st.Phase != PhaseTrial || st.To != cur {
		return State{}, "", fmt.Errorf("update: no trial in progress on slot %s (state %q)", cur, st.Phase)
	}
	return st, cur, nil
}
