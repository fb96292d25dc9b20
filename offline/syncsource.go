package offline

import (
	"bytes"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// SyncSource is the store as the sync client (protocol/syncclient) sees it:
// the journal to upload from the acknowledged cursor, and the sinks of the
// signed status lists and rules it downloads. It satisfies the interfaces
// the client declares; the store itself keeps its own richer API.
type SyncSource struct{ s *Store }

// SyncSource returns the store's adapter for the sync client.
func (s *Store) SyncSource() SyncSource { return SyncSource{s: s} }

// DeviceID returns the device id of the store.
func (a SyncSource) DeviceID() string { return a.s.deviceID }

// Epoch returns the journal epoch of the store (see Store.Epoch).
func (a SyncSource) Epoch() uint64 { return a.s.epoch }

// Cursor returns the acknowledged-through sequence and that record's hash
// (the genesis value at 0).
func (a SyncSource) Cursor() (uint64, [protocol.HashSize]byte, error) {
	c, err := a.s.SyncCursor()
	return c.Seq, c.Hash, err
}

// Head returns the last record's sequence and hash.
func (a SyncSource) Head() (uint64, [protocol.HashSize]byte, error) {
	h, err := a.s.Head()
	return h.Seq, h.Hash, err
}

// RawRecords returns the exact bytes of up to n records with sequence >
// after, in order, without decoding them (the ledger checks every record
// and the chain; a batch of raw copies is what makes a backlog sync fast).
// A hole in the sequence is ErrCorrupt; a record before after+1 that was
// purged is simply not returned, so the first record's sequence may be
// larger than after+1 only if the caller asks below the purge anchor.
func (a SyncSource) RawRecords(after uint64, n int) ([][]byte, error) {
	var out [][]byte
	err := a.s.view("sync records", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketJournal).Cursor()
		want := after + 1
		for k, v := c.Seek(be64(want)); k != nil && len(out) < n; k, v = c.Next() {
			got, err := journalSeq(k)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("offline: sync records: want %d, next is %d: %w", want, got, ErrCorrupt)
			}
			out = append(out, bytes.Clone(v))
			want++
		}
		return nil
	})
	return out, err
}

// Ack records the ledger's verified acknowledgement (Store.Ack).
func (a SyncSource) Ack(seq uint64, hash [protocol.HashSize]byte) error {
	return a.s.Ack(seq, hash)
}

// StatusVersion returns the version of the status list held (0 = none).
func (a SyncSource) StatusVersion() (uint64, error) {
	si, err := a.s.StatusInfo()
	return si.Version, err
}

// ApplyStatusSnapshot applies a snapshot the client verified: a version
// older than the one held is refused with ErrStaleVersion, a list whose
// digest is not the signed one with ErrDigestMismatch; either way nothing
// changes. The apply is journalled in the same commit.
func (a SyncSource) ApplyStatusSnapshot(m protocol.StatusSnapshot) error {
	snap := StatusSnapshot{Version: m.Version, Digest: m.Digest, Entries: make([]StatusEntry, len(m.Entries))}
	if snap.Digest == nil {
		return fmt.Errorf("offline: status snapshot %d: no digest: %w", m.Version, ErrInvalid)
	}
	for i, e := range m.Entries {
		snap.Entries[i] = StatusEntry{CardNo: e.Card, Reason: Reason(e.Reason), Since: time.Unix(e.Since, 0).UTC()}
	}
	return a.s.ApplySnapshot(snap)
}

// ApplyStatusDelta applies a delta the client verified: one whose To is
// not newer than the version held is refused with ErrStaleVersion, one not
// starting at the version held with ErrVersionGap, one whose resulting
// digest is not the signed one with ErrDigestMismatch; nothing changes
// then. The apply is journalled in the same commit.
func (a SyncSource) ApplyStatusDelta(m protocol.StatusDelta) error {
	if m.Digest == nil {
		return fmt.Errorf("offline: status delta %d→%d: no digest: %w", m.From, m.To, ErrInvalid)
	}
	held, err := a.StatusVersion()
	if err != nil {
		return err
	}
	if m.To <= held {
		return fmt.Errorf("offline: status delta %d→%d, have %d: %w", m.From, m.To, held, ErrStaleVersion)
	}
	d := StatusDelta{From: m.From, To: m.To, Digest: m.Digest, Changes: make([]StatusChange, len(m.Changes))}
	for i, c := range m.Changes {
		d.Changes[i] = StatusChange{CardNo: c.Card, Reason: Reason(c.Reason), Since: time.Unix(c.Since, 0).UTC(), Remove: c.Reason == 0}
	}
	return a.s.ApplyDelta(d)
}

// RulesVersion returns the version of the rules in force (0 = none).
func (a SyncSource) RulesVersion() (uint64, error) {
	v, _, err := a.s.RulesVersion()
	return v, err
}

// PutRules stores verified rules (Store.PutRules).
func (a SyncSource) PutRules(version uint64, signedRaw []byte, rules protocol.Rules) error {
	return a.s.PutRules(version, signedRaw, rules)
}
