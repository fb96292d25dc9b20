package offline

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// StatusEntry is one card on the status list.
type StatusEntry struct {
	CardNo  string
	Reason  Reason
	Since   time.Time // second resolution
	Version uint64    // list version that last set this entry (set by the store)
}

// StatusSnapshot replaces the whole list. Digest, if set, must equal the
// list's StatusDigest after applying, or nothing changes.
type StatusSnapshot struct {
	Version uint64
	Entries []StatusEntry
	Digest  []byte
}

// StatusChange is one entry of a delta: set (add or change) or remove.
type StatusChange struct {
	CardNo string
	Reason Reason // ignored when Remove
	Since  time.Time
	Remove bool
}

// StatusDelta moves the list from version From to To (> From). Digest, if
// set, must equal the list's StatusDigest after applying.
type StatusDelta struct {
	From, To uint64
	Changes  []StatusChange
	Digest   []byte
}

// StatusInfo describes the list held: its version, digest and size.
type StatusInfo struct {
	Version  uint64
	Digest   [sha256.Size]byte
	Count    uint64
	ByReason map[Reason]uint64
}

// StatusDigest computes the canonical digest of a list, protocol.StatusDigest
// (defined there, so that the ledger computes the same): what the ledger
// signs and what the store keeps.
func StatusDigest(entries []StatusEntry) [sha256.Size]byte {
	pe := make([]protocol.StatusEntry, len(entries))
	for i, e := range entries {
		pe[i] = protocol.StatusEntry{CardNo: e.CardNo, Reason: uint8(e.Reason), Since: sinceUnix(e.Since)}
	}
	return protocol.StatusDigest(pe)
}

// Lookup returns the card's status entry and true, or false if the card is
// not listed. It is the hot path of every tap: one read transaction, one
// B-tree lookup, no allocation beyond the key.
func (s *Store) Lookup(cardNo string) (StatusEntry, bool, error) {
	var (
		e     StatusEntry
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStatus).Get([]byte(cardNo))
		if v == nil {
			return nil
		}
		r, since, ver, err := decodeStatusValue(v)
		if err != nil {
			return err
		}
		e, found = StatusEntry{CardNo: cardNo, Reason: r, Since: time.Unix(since, 0).UTC(), Version: ver}, true
		return nil
	})
	return e, found, err
}

// StatusInfo returns the version, digest and per-reason counts of the list,
// kept up to date at apply time (no scan).
func (s *Store) StatusInfo() (StatusInfo, error) {
	var si StatusInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		si, err = readStatusInfo(tx)
		return err
	})
	return si, err
}

func readStatusInfo(tx *bolt.Tx) (StatusInfo, error) {
	sm := tx.Bucket(bucketStatusMeta)
	v, d, c := sm.Get(keyVersion), sm.Get(keyDigest), sm.Get(keyCounts)
	if len(v) != 8 || len(d) != sha256.Size || len(c) != 8*numReasons {
		return StatusInfo{}, fmt.Errorf("offline: status list metadata: %w", ErrCorrupt)
	}
	si := StatusInfo{Version: binary.BigEndian.Uint64(v), ByReason: map[Reason]uint64{}}
	copy(si.Digest[:], d)
	for r := ReasonLost; r < numReasons; r++ {
		n := binary.BigEndian.Uint64(c[8*int(r):])
		si.ByReason[r] = n
		si.Count += n
	}
	return si, nil
}

func writeStatusInfo(tx *bolt.Tx, version uint64, digest [sha256.Size]byte, counts *[numReasons]uint64) error {
	sm := tx.Bucket(bucketStatusMeta)
	c := make([]byte, 8*numReasons)
	for i, n := range counts {
		binary.BigEndian.PutUint64(c[8*i:], n)
	}
	if err := sm.Put(keyVersion, be64(version)); err != nil {
		return err
	}
	if err := sm.Put(keyDigest, digest[:]); err != nil {
		return err
	}
	return sm.Put(keyCounts, c)
}

// ApplySnapshot replaces the list atomically (one transaction: the old
// bucket is dropped and the new one built) and journals a config-applied
// record. A version older than the current one is refused with
// ErrStaleVersion; a Digest that does not match with ErrDigestMismatch.
func (s *Store) ApplySnapshot(snap StatusSnapshot) error {
	es := slices.Clone(snap.Entries)
	slices.SortFunc(es, func(a, b StatusEntry) int { return strings.Compare(a.CardNo, b.CardNo) })
	for i, e := range es {
		if !validCardNo(e.CardNo) || !e.Reason.Valid() {
			return fmt.Errorf("offline: status snapshot: entry %q: %w", e.CardNo, ErrInvalid)
		}
		if i > 0 && es[i-1].CardNo == e.CardNo {
			return fmt.Errorf("offline: status snapshot: card %s listed twice: %w", e.CardNo, ErrInvalid)
		}
	}
	return s.update("status snapshot", func(tx *bolt.Tx) error {
		cur, err := readStatusInfo(tx)
		if err != nil {
			return err
		}
		if snap.Version < cur.Version {
			return fmt.Errorf("offline: status snapshot %d, have %d: %w", snap.Version, cur.Version, ErrStaleVersion)
		}
		if err := tx.DeleteBucket(bucketStatus); err != nil {
			return fmt.Errorf("offline: status snapshot: %w", err)
		}
		b, err := tx.CreateBucket(bucketStatus)
		if err != nil {
			return fmt.Errorf("offline: status snapshot: %w", err)
		}
		b.FillPercent = 1.0 // keys arrive sorted: pack the pages
		d := protocol.NewStatusDigester()
		var counts [numReasons]uint64
		// bbolt keeps the value slices until commit: carve them from one
		// arena instead of reusing a buffer.
		arena := make([]byte, 0, len(es)*maxStatusValue)
		for _, e := range es {
			since := sinceUnix(e.Since)
			n := len(arena)
			arena = encodeStatusValue(arena, e.Reason, since, snap.Version)
			val := arena[n:len(arena):len(arena)]
			if err := b.Put([]byte(e.CardNo), val); err != nil {
				return fmt.Errorf("offline: status snapshot: %w", err)
			}
			d.Add([]byte(e.CardNo), uint8(e.Reason), since)
			counts[e.Reason]++
		}
		return s.finishApply(tx, "status-snapshot", snap.Version, d.Sum(), snap.Digest, &counts)
	})
}

// ApplyDelta applies the changes from version From to To atomically. It is
// refused with ErrVersionGap unless From is the current version.
func (s *Store) ApplyDelta(delta StatusDelta) error {
	if delta.To <= delta.From {
		return fmt.Errorf("offline: status delta %d→%d: %w", delta.From, delta.To, ErrInvalid)
	}
	for _, c := range delta.Changes {
		if !validCardNo(c.CardNo) || (!c.Remove && !c.Reason.Valid()) {
			return fmt.Errorf("offline: status delta: change %q: %w", c.CardNo, ErrInvalid)
		}
	}
	return s.update("status delta", func(tx *bolt.Tx) error {
		cur, err := readStatusInfo(tx)
		if err != nil {
			return err
		}
		if delta.From != cur.Version {
			return fmt.Errorf("offline: status delta %d→%d, have %d: %w", delta.From, delta.To, cur.Version, ErrVersionGap)
		}
		var counts [numReasons]uint64
		for r, n := range cur.ByReason {
			counts[r] = n
		}
		b := tx.Bucket(bucketStatus)
		arena := make([]byte, 0, len(delta.Changes)*maxStatusValue)
		for _, c := range delta.Changes {
			key := []byte(c.CardNo)
			if old := b.Get(key); old != nil {
				r, _, _, err := decodeStatusValue(old)
				if err != nil {
					return err
				}
				counts[r]--
			}
			if c.Remove {
				if err := b.Delete(key); err != nil {
					return fmt.Errorf("offline: status delta: %w", err)
				}
				continue
			}
			n := len(arena)
			arena = encodeStatusValue(arena, c.Reason, sinceUnix(c.Since), delta.To)
			if err := b.Put(key, arena[n:len(arena):len(arena)]); err != nil {
				return fmt.Errorf("offline: status delta: %w", err)
			}
			counts[c.Reason]++
		}
		digest, err := digestBucket(b)
		if err != nil {
			return err
		}
		return s.finishApply(tx, "status-delta", delta.To, digest, delta.Digest, &counts)
	})
}

// digestBucket computes the list digest over the bucket, in key order (which
// is the canonical order).
func digestBucket(b *bolt.Bucket) ([sha256.Size]byte, error) {
	d := protocol.NewStatusDigester()
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, since, _, err := decodeStatusValue(v)
		if err != nil {
			return [sha256.Size]byte{}, err
		}
		d.Add(k, uint8(r), since)
	}
	return d.Sum(), nil
}

func (s *Store) finishApply(tx *bolt.Tx, what string, version uint64, got [sha256.Size]byte, want []byte, counts *[numReasons]uint64) error {
	if want != nil && !bytes.Equal(want, got[:]) {
		return fmt.Errorf("offline: %s %d: digest %x, ledger signed %x: %w", what, version, got, want, ErrDigestMismatch)
	}
	if err := writeStatusInfo(tx, version, got, counts); err != nil {
		return fmt.Errorf("offline: %s: %w", what, err)
	}
	_, err := s.appendTx(tx, protocol.Record{
		Kind: protocol.KindConfigApplied, Reason: what, Version: version, Digest: got[:],
	}, classEvidence)
	return err
}
