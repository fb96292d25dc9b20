package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Keys of the PSAM binding (issue 16).
var (
	// keyPSAM (in meta) is the terminal id of the PSAM bound to this
	// device: the one it enrolled with (or found at its first start).
	keyPSAM = []byte("psam")
	// keyPSAMHold (in sync) is the hold: be64 Unix ms the ledger holds
	// the device since (0: it does not) ‖ be64 Unix ms another PSAM was
	// found since (0: none) ‖ that PSAM's terminal id (6 bytes, zero when
	// none) ‖ be64 seq of the hold's psam-held record (0: not yet).
	// Absent when there is no hold and nothing left to journal.
	keyPSAMHold = []byte("psamhold")
)

const psamHoldSize = 8 + 8 + protocol.TerminalIDSize + 8

// Reasons of the psam-held record (protocol.KindPSAMHeld) and the
// psam-released one.
const (
	ReasonPSAMLedger  = protocol.ReasonPSAMLedger  // the ledger holds the device
	ReasonPSAMSwapped = protocol.ReasonPSAMSwapped // the PSAM in the device is not the one bound to it
	ReasonPSAMBound   = "bound"                    // psam-released: the PSAM in the device is bound to it again
)

// PSAMState is the device's binding to its PSAM as the store keeps it,
// so that a hold survives a restart: the terminal takes no money while
// Held.
type PSAMState struct {
	// Bound is the terminal id of the PSAM bound to the device (nil: none
	// recorded yet).
	Bound []byte
	// LedgerHeld: the ledger answered that it holds the device (its PSAM
	// is not bound to it there), first at LedgerHeldAt.
	LedgerHeld   bool
	LedgerHeldAt time.Time
	// Swapped is the terminal id of a PSAM found in the device that is
	// not Bound (nil: none), first at SwappedAt.
	Swapped   []byte
	SwappedAt time.Time
	// HeldSeq is the psam-held record of the hold (0: not journaled
	// yet). With no hold in force and HeldSeq set, the hold's end waits
	// to be journaled (psam-released).
	HeldSeq uint64
}

// Held reports whether the PSAM binding stops money.
func (st PSAMState) Held() bool { return st.LedgerHeld || st.Swapped != nil }

// Since is when the hold went on (zero when none is in force).
func (st PSAMState) Since() time.Time {
	switch {
	case st.LedgerHeld && st.Swapped != nil && st.SwappedAt.Before(st.LedgerHeldAt):
		return st.SwappedAt
	case st.LedgerHeld:
		return st.LedgerHeldAt
	}
	return st.SwappedAt
}

// PSAMState returns the PSAM binding and its hold.
func (s *Store) PSAMState() (PSAMState, error) {
	var st PSAMState
	err := s.view("psam state", func(tx *bolt.Tx) error {
		var err error
		st, err = readPSAM(tx)
		return err
	})
	return st, err
}

func readPSAM(tx *bolt.Tx) (PSAMState, error) {
	var st PSAMState
	if v := tx.Bucket(bucketMeta).Get(keyPSAM); v != nil {
		if len(v) != protocol.TerminalIDSize {
			return st, fmt.Errorf("offline: psam: bound terminal id is %d bytes: %w", len(v), ErrCorrupt)
		}
		st.Bound = bytes.Clone(v)
	}
	v := tx.Bucket(bucketSync).Get(keyPSAMHold)
	if v == nil {
		return st, nil
	}
	return decodePSAMHold(st, v)
}

// decodePSAMHold decodes the hold value v (keyPSAMHold) onto st.
func decodePSAMHold(st PSAMState, v []byte) (PSAMState, error) {
	if len(v) != psamHoldSize {
		return st, fmt.Errorf("offline: psam hold is %d bytes: %w", len(v), ErrCorrupt)
	}
	if binary.BigEndian.Uint64(v) > math.MaxInt64 || binary.BigEndian.Uint64(v[8:]) > math.MaxInt64 {
		return st, fmt.Errorf("offline: psam hold: time out of range: %w", ErrCorrupt)
	}
	if ms := binary.BigEndian.Uint64(v); ms != 0 {
		st.LedgerHeld, st.LedgerHeldAt = true, time.UnixMilli(int64(ms)).UTC()
	}
	if ms := binary.BigEndian.Uint64(v[8:]); ms != 0 {
		st.Swapped, st.SwappedAt = bytes.Clone(v[16:16+protocol.TerminalIDSize]), time.UnixMilli(int64(ms)).UTC()
	} else if !bytes.Equal(v[16:16+protocol.TerminalIDSize], make([]byte, protocol.TerminalIDSize)) {
		return st, fmt.Errorf("offline: psam hold: a terminal id without a time: %w", ErrCorrupt)
	}
	st.HeldSeq = binary.BigEndian.Uint64(v[16+protocol.TerminalIDSize:])
	if !st.Held() && st.HeldSeq == 0 {
		return st, fmt.Errorf("offline: psam hold: empty: %w", ErrCorrupt)
	}
	return st, nil
}

// encodePSAMHold encodes st's hold (keyPSAMHold).
func encodePSAMHold(st PSAMState) []byte {
	v := make([]byte, psamHoldSize)
	if st.LedgerHeld {
		binary.BigEndian.PutUint64(v, uint64(max(st.LedgerHeldAt.UnixMilli(), 1)))
	}
	if st.Swapped != nil {
		binary.BigEndian.PutUint64(v[8:], uint64(max(st.SwappedAt.UnixMilli(), 1)))
		copy(v[16:], st.Swapped)
	}
	binary.BigEndian.PutUint64(v[16+protocol.TerminalIDSize:], st.HeldSeq)
	return v
}

// writePSAM stores st (its Bound and its hold) in tx.
func writePSAM(tx *bolt.Tx, st PSAMState) error {
	if st.Bound != nil {
		if err := tx.Bucket(bucketMeta).Put(keyPSAM, st.Bound); err != nil {
			return err
		}
	}
	b := tx.Bucket(bucketSync)
	if !st.Held() && st.HeldSeq == 0 {
		return b.Delete(keyPSAMHold)
	}
	return b.Put(keyPSAMHold, encodePSAMHold(st))
}

// changePSAM applies fn to the state in one commit, writing only when fn
// changed it; it returns the state after.
func (s *Store) changePSAM(op string, fn func(st *PSAMState) error) (PSAMState, error) {
	var out PSAMState
	err := s.update(op, func(tx *bolt.Tx) error {
		st, err := readPSAM(tx)
		if err != nil {
			return err
		}
		before := st
		if err := fn(&st); err != nil {
			return err
		}
		out = st
		if samePSAM(before, st) {
			return nil
		}
		return writePSAM(tx, st)
	})
	return out, err
}

func samePSAM(a, b PSAMState) bool {
	return bytes.Equal(a.Bound, b.Bound) && a.LedgerHeld == b.LedgerHeld && a.LedgerHeldAt.Equal(b.LedgerHeldAt) &&
		bytes.Equal(a.Swapped, b.Swapped) && a.SwappedAt.Equal(b.SwappedAt) && a.HeldSeq == b.HeldSeq
}

func checkTerminalID(op string, tid []byte) error {
	if len(tid) != protocol.TerminalIDSize {
		return fmt.Errorf("offline: %s: terminal id of %d bytes, want %d: %w", op, len(tid), protocol.TerminalIDSize, ErrInvalid)
	}
	return nil
}

// CheckPSAM compares the PSAM found in the device (terminal id tid, at t)
// with the one bound to it: with none bound yet (a store from before the
// binding, a device provisioned without its PSAM) tid is bound; the bound
// one clears a swap recorded before (the PSAM is back); another is
// recorded as Swapped, which holds the device until the ledger, having
// held it, lets it go (RecordLedgerHeld) or the bound PSAM is back.
func (s *Store) CheckPSAM(tid []byte, t time.Time) (PSAMState, error) {
	if err := checkTerminalID("check psam", tid); err != nil {
		return PSAMState{}, err
	}
	return s.changePSAM("check psam", func(st *PSAMState) error {
		switch {
		case st.Bound == nil:
			st.Bound = bytes.Clone(tid)
			st.Swapped, st.SwappedAt = nil, time.Time{}
		case bytes.Equal(st.Bound, tid):
			st.Swapped, st.SwappedAt = nil, time.Time{}
		case !bytes.Equal(st.Swapped, tid):
			st.Swapped, st.SwappedAt = bytes.Clone(tid), t.UTC()
		}
		return nil
	})
}

// BindPSAM records tid as the PSAM bound to the device (its enrolment
// with that PSAM); a swap to that PSAM recorded before is cleared.
func (s *Store) BindPSAM(tid []byte) error {
	if err := checkTerminalID("bind psam", tid); err != nil {
		return err
	}
	_, err := s.changePSAM("bind psam", func(st *PSAMState) error {
		st.Bound = bytes.Clone(tid)
		if bytes.Equal(st.Swapped, tid) {
			st.Swapped, st.SwappedAt = nil, time.Time{}
		}
		return nil
	})
	return err
}

// RecordLedgerHeld records the ledger's answer that it holds the device
// for its PSAM binding (held, first at t), or that it does not. When a
// hold of the ledger ends (an operator re-bound the device there) and
// another PSAM than the bound one was found in the device, that PSAM
// becomes the bound one: the operator's rebind covers the PSAM the device
// has (and were it not the one the ledger now binds, the next record
// would hold the device again). Nothing is written when nothing changes.
func (s *Store) RecordLedgerHeld(held bool, t time.Time) error {
	_, err := s.changePSAM("record ledger held", func(st *PSAMState) error {
		switch {
		case held && !st.LedgerHeld:
			st.LedgerHeld, st.LedgerHeldAt = true, t.UTC()
		case !held && st.LedgerHeld:
			st.LedgerHeld, st.LedgerHeldAt = false, time.Time{}
			if st.Swapped != nil {
				st.Bound, st.Swapped, st.SwappedAt = st.Swapped, nil, time.Time{}
			}
		}
		return nil
	})
	return err
}

// JournalPSAMHeld appends r, the psam-held record of the hold in force,
// and notes its sequence with the hold in the same commit, so that a hold
// is journaled once across restarts. It returns the record's sequence,
// or that of the one journaled before for the same hold. With no hold in
// force it fails with ErrInvalid.
func (s *Store) JournalPSAMHeld(r protocol.Record) (uint64, error) {
	if r.Kind != protocol.KindPSAMHeld {
		return 0, fmt.Errorf("offline: journal psam held: kind %v: %w", r.Kind, ErrInvalid)
	}
	var seq uint64
	err := s.update("journal psam held", func(tx *bolt.Tx) error {
		st, err := readPSAM(tx)
		switch {
		case err != nil:
			return err
		case !st.Held():
			return fmt.Errorf("offline: journal psam held: no hold in force: %w", ErrInvalid)
		case st.HeldSeq != 0:
			seq = st.HeldSeq
			return nil
		}
		e, err := s.appendTx(tx, r, classEvidence)
		if err != nil {
			return err
		}
		seq, st.HeldSeq = e.Record.Seq, e.Record.Seq
		return writePSAM(tx, st)
	})
	return seq, err
}

// JournalPSAMReleased appends r, the psam-released record of a hold that
// ended (journaled with JournalPSAMHeld, no hold in force now), and
// forgets the hold in the same commit. With a hold still in force, or
// none journaled, it fails with ErrInvalid.
func (s *Store) JournalPSAMReleased(r protocol.Record) (uint64, error) {
	if r.Kind != protocol.KindPSAMReleased {
		return 0, fmt.Errorf("offline: journal psam released: kind %v: %w", r.Kind, ErrInvalid)
	}
	var seq uint64
	err := s.update("journal psam released", func(tx *bolt.Tx) error {
		st, err := readPSAM(tx)
		switch {
		case err != nil:
			return err
		case st.Held() || st.HeldSeq == 0:
			return fmt.Errorf("offline: journal psam released: no ended hold to journal: %w", ErrInvalid)
		}
		e, err := s.appendTx(tx, r, classEvidence)
		if err != nil {
			return err
		}
		seq, st.HeldSeq = e.Record.Seq, 0
		return writePSAM(tx, st)
	})
	return seq, err
}

// RecordLedgerHeld records the ledger's hold on the device, or its end
// (Store.RecordLedgerHeld), for the sync client.
func (a SyncSource) RecordLedgerHeld(held bool, t time.Time) error {
	return a.s.RecordLedgerHeld(held, t)
}
