package offline

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// keyTamper holds be64 seq of the alarm record of a case-open / tamper
// input not cleared yet (in bucketSync).
var keyTamper = []byte("tamper")

// Alarm reasons of the terminal's tamper input (KindAlarm records).
const (
	ReasonTamper        = "tamper"         // the case-open / tamper input went active
	ReasonTamperCleared = "tamper-cleared" // a technician cleared it: "tamper-cleared by NAME"
)

// Tamper returns the sequence of the tamper alarm not cleared yet (0:
// none): the terminal takes no money while it is set.
func (s *Store) Tamper() (uint64, error) {
	var seq uint64
	err := s.view("tamper", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSync).Get(keyTamper)
		if v == nil {
			return nil
		}
		if len(v) != 8 {
			return fmt.Errorf("offline: tamper is %d bytes: %w", len(v), ErrCorrupt)
		}
		seq = binary.BigEndian.Uint64(v)
		return nil
	})
	return seq, err
}

// JournalTamper journals the tamper input's alarm (a KindAlarm record,
// reason ReasonTamper) and sets the tamper state in the same commit. An
// alarm not cleared yet is not journaled again: its sequence is
// returned.
func (s *Store) JournalTamper() (uint64, error) {
	var seq uint64
	err := s.update("journal tamper", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSync)
		if v := b.Get(keyTamper); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
			return nil
		}
		e, err := s.appendTx(tx, protocol.Record{Kind: protocol.KindAlarm, Reason: ReasonTamper}, classEvidence)
		if err != nil {
			return err
		}
		seq = e.Record.Seq
		return b.Put(keyTamper, be64(seq))
	})
	return seq, err
}

// ClearTamper journals that technician cleared the tamper alarm (reason
// "tamper-cleared by NAME") and clears the state in the same commit. With
// no tamper alarm set it fails with ErrIntentState; technician must be 1
// to 32 printable characters without spaces.
func (s *Store) ClearTamper(technician string) (uint64, error) {
	if technician == "" || len(technician) > 32 || strings.ContainsFunc(technician, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return 0, fmt.Errorf("offline: clear tamper: technician %q: want 1 to 32 printable characters: %w", technician, ErrInvalid)
	}
	var seq uint64
	err := s.update("clear tamper", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSync)
		if b.Get(keyTamper) == nil {
			return fmt.Errorf("offline: clear tamper: no tamper alarm set: %w", ErrIntentState)
		}
		e, err := s.appendTx(tx, protocol.Record{Kind: protocol.KindAlarm, Reason: ReasonTamperCleared + " by " + technician}, classEvidence)
		if err != nil {
			return err
		}
		seq = e.Record.Seq
		return b.Delete(keyTamper)
	})
	return seq, err
}
