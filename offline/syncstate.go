package offline

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Keys in the sync bucket for the device's standing with the ledger.
var (
	keyContact = []byte("contact") // be64 Unix ms of the last successful exchange
	keyRevoked = []byte("revoked") // be64 Unix ms revoked at ‖ be64 seq of its device-revoked record (0: none yet)
)

// SyncState is what the sync client learnt of the device's standing with
// the ledger, kept in the store so that it survives a restart: the
// daemon's offline limit and its revoked hold are decided on it.
type SyncState struct {
	// LastContact is the last successful exchange with the ledger; zero
	// when none was recorded.
	LastContact time.Time
	// Revoked: the ledger answered that this device is revoked, first at
	// RevokedAt.
	Revoked   bool
	RevokedAt time.Time
	// RevokedSeq is the journal sequence of the device-revoked record of
	// this revocation; 0 until the daemon journaled it.
	RevokedSeq uint64
}

// SyncState returns the device's standing with the ledger as recorded.
func (s *Store) SyncState() (SyncState, error) {
	var st SyncState
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = readSyncState(tx)
		return err
	})
	return st, err
}

func readSyncState(tx *bolt.Tx) (SyncState, error) {
	var st SyncState
	b := tx.Bucket(bucketSync)
	if v := b.Get(keyContact); v != nil {
		if len(v) != 8 {
			return st, fmt.Errorf("offline: sync state: contact is %d bytes: %w", len(v), ErrCorrupt)
		}
		st.LastContact = time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC()
	}
	if v := b.Get(keyRevoked); v != nil {
		if len(v) != 16 {
			return st, fmt.Errorf("offline: sync state: revoked is %d bytes: %w", len(v), ErrCorrupt)
		}
		st.Revoked = true
		st.RevokedAt = time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC()
		st.RevokedSeq = binary.BigEndian.Uint64(v[8:])
	}
	return st, nil
}

// RecordContact records a successful exchange with the ledger at t (the
// sync client calls it after a verified answer).
func (s *Store) RecordContact(t time.Time) error {
	return s.update("record contact", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSync).Put(keyContact, be64(uint64(t.UnixMilli())))
	})
}

// RecordRevoked records that the ledger answered that the device is
// revoked (at t; a revocation already recorded keeps its first time and
// its record), or, with revoked false, that it serves the device again.
func (s *Store) RecordRevoked(revoked bool, t time.Time) error {
	return s.update("record revoked", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSync)
		if !revoked {
			return b.Delete(keyRevoked)
		}
		if b.Get(keyRevoked) != nil {
			return nil
		}
		return b.Put(keyRevoked, append(be64(uint64(t.UnixMilli())), be64(0)...))
	})
}

// JournalRevoked appends r, the device-revoked record of the revocation
// recorded, and notes its sequence with the revocation in the same commit,
// so that a revocation is journaled once across restarts. It returns the
// record's sequence, or that of the record journaled before for the same
// revocation. With no revocation recorded it fails with ErrInvalid.
func (s *Store) JournalRevoked(r protocol.Record) (uint64, error) {
	if r.Kind != protocol.KindDeviceRevoked {
		return 0, fmt.Errorf("offline: journal revoked: kind %v: %w", r.Kind, ErrInvalid)
	}
	var seq uint64
	err := s.update("journal revoked", func(tx *bolt.Tx) error {
		st, err := readSyncState(tx)
		if err != nil {
			return err
		}
		if !st.Revoked {
			return fmt.Errorf("offline: journal revoked: no revocation recorded: %w", ErrInvalid)
		}
		if st.RevokedSeq != 0 {
			seq = st.RevokedSeq
			return nil
		}
		e, err := s.appendTx(tx, r, classEvidence)
		if err != nil {
			return err
		}
		seq = e.Record.Seq
		v := append(be64(uint64(st.RevokedAt.UnixMilli())), be64(seq)...)
		return tx.Bucket(bucketSync).Put(keyRevoked, v)
	})
	return seq, err
}

// RecordContact records a successful exchange with the ledger
// (Store.RecordContact), for the sync client.
func (a SyncSource) RecordContact(t time.Time) error { return a.s.RecordContact(t) }

// RecordRevoked records the ledger's answer that the device is revoked,
// or that it serves it again (Store.RecordRevoked), for the sync client.
func (a SyncSource) RecordRevoked(revoked bool, t time.Time) error {
	return a.s.RecordRevoked(revoked, t)
}
