package offline

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
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
// not listed. It is the hot path of every tap: one SHA-256 of the card
// number for its partition, one read transaction, one B-tree lookup and a
// scan of the partition's few entries, with no allocation beyond the key.
func (s *Store) Lookup(cardNo string) (StatusEntry, bool, error) {
	if !validCardNo(cardNo) {
		return StatusEntry{}, false, nil // never listed
	}
	var (
		e     StatusEntry
		found bool
		key   [2]byte
		want  [1 + maxCardNo]byte
	)
	binary.BigEndian.PutUint16(key[:], protocol.StatusPartition([]byte(cardNo)))
	field := appendCard(want[:0], []byte(cardNo))
	err := s.view("status lookup", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStatus).Get(key[:])
		if v == nil {
			return nil
		}
		r, since, ver, ok, err := findInPartition(v, field)
		if err != nil || !ok {
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
	err := s.view("status info", func(tx *bolt.Tx) error {
		var err error
		si, err = readStatusInfo(tx)
		return err
	})
	return si, err
}

func readStatusInfo(tx *bolt.Tx) (StatusInfo, error) {
	sm := tx.Bucket(bucketStatusMeta)
	return decodeStatusInfo(sm.Get(keyVersion), sm.Get(keyDigest), sm.Get(keyCounts))
}

// decodeStatusInfo decodes the status list's metadata: be64 version, the
// digest, and be64 counts per reason (index 0 unused, always 0).
func decodeStatusInfo(v, d, c []byte) (StatusInfo, error) {
	if len(v) != 8 || len(d) != sha256.Size || len(c) != 8*numReasons || binary.BigEndian.Uint64(c) != 0 {
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

// keyedItem is a status item with its partition, for sorting.
type keyedItem struct {
	p      uint16
	remove bool // delta: remove the card
	statusItem
}

func cmpKeyed(a, b keyedItem) int {
	if a.p != b.p {
		return int(a.p) - int(b.p)
	}
	return bytes.Compare(a.card, b.card)
}

// ApplySnapshot replaces the list atomically (one transaction: the old
// bucket is dropped and the new one built) and journals a config-applied
// record. A version older than the current one is refused with
// ErrStaleVersion; a Digest that does not match with ErrDigestMismatch.
func (s *Store) ApplySnapshot(snap StatusSnapshot) error {
	es := make([]keyedItem, len(snap.Entries))
	for i, e := range snap.Entries {
		if !validCardNo(e.CardNo) || !e.Reason.Valid() {
			return fmt.Errorf("offline: status snapshot: entry %q: %w", e.CardNo, ErrInvalid)
		}
		card := []byte(e.CardNo)
		es[i] = keyedItem{p: protocol.StatusPartition(card), statusItem: statusItem{
			card: card, reason: e.Reason, since: sinceUnix(e.Since), version: snap.Version,
		}}
	}
	slices.SortFunc(es, cmpKeyed)
	for i := 1; i < len(es); i++ {
		if cmpKeyed(es[i-1], es[i]) == 0 {
			return fmt.Errorf("offline: status snapshot: card %s listed twice: %w", es[i].card, ErrInvalid)
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
		b.FillPercent = snapshotFill
		list := protocol.NewStatusListDigester()
		var (
			pd     protocol.StatusPartitionDigester
			counts [numReasons]uint64
			items  []statusItem
		)
		// bbolt keeps the value slices until commit: carve them from one
		// arena instead of reusing a buffer.
		arena := make([]byte, 0, len(es)*12+min(len(es), protocol.StatusPartitions)*(digestLen+16))
		for i, e := range es {
			items = append(items, e.statusItem)
			counts[e.reason]++
			if i < len(es)-1 && es[i+1].p == e.p {
				continue
			}
			n := len(arena)
			arena = encodePartition(arena, items, &pd)
			val := arena[n:len(arena):len(arena)]
			if err := b.Put(partitionKey(e.p), val); err != nil {
				return fmt.Errorf("offline: status snapshot: %w", err)
			}
			list.Add(e.p, [digestLen]byte(val[:digestLen]))
			items = items[:0]
		}
		return s.finishApply(tx, "status-snapshot", snap.Version, list.Sum(), snap.Digest, &counts)
	})
}

// Fill factors of the status bucket's pages: a snapshot packs them but
// leaves room for deltas to grow partitions without splitting every page.
const (
	snapshotFill = 0.95
	deltaFill    = 0.9
)

// ApplyDelta applies the changes from version From to To atomically. It is
// refused with ErrVersionGap unless From is the current version, and with
// ErrInvalid if it names a card twice. Only the partitions the delta touches
// are rewritten and rehashed; the list digest is recomputed from the stored
// partition digests.
func (s *Store) ApplyDelta(delta StatusDelta) error {
	if delta.To <= delta.From {
		return fmt.Errorf("offline: status delta %d→%d: %w", delta.From, delta.To, ErrInvalid)
	}
	cs := make([]keyedItem, len(delta.Changes))
	for i, c := range delta.Changes {
		if !validCardNo(c.CardNo) || (!c.Remove && !c.Reason.Valid()) {
			return fmt.Errorf("offline: status delta: change %q: %w", c.CardNo, ErrInvalid)
		}
		card := []byte(c.CardNo)
		cs[i] = keyedItem{p: protocol.StatusPartition(card), remove: c.Remove, statusItem: statusItem{
			card: card, reason: c.Reason, since: sinceUnix(c.Since), version: delta.To,
		}}
	}
	// Sorted, the changes walk the B-tree once, partition by partition.
	slices.SortFunc(cs, cmpKeyed)
	for i := 1; i < len(cs); i++ {
		if cmpKeyed(cs[i-1], cs[i]) == 0 {
			return fmt.Errorf("offline: status delta: card %s changed twice: %w", cs[i].card, ErrInvalid)
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
		b.FillPercent = deltaFill
		var (
			pd          protocol.StatusPartitionDigester
			old, merged []statusItem
			scratch     []byte
			arena       []byte
		)
		for i := 0; i < len(cs); {
			j := i + 1
			for j < len(cs) && cs[j].p == cs[i].p {
				j++
			}
			// bbolt keeps key and value slices until commit: carve them
			// from chunks that are never reused.
			need := 2 + digestLen + (j-i)*maxStatusEntry
			v := b.Get(binary.BigEndian.AppendUint16(scratch[:0], cs[i].p))
			need += len(v)
			if cap(arena)-len(arena) < need {
				arena = make([]byte, 0, max(need, 1<<20))
			}
			arena = binary.BigEndian.AppendUint16(arena, cs[i].p)
			key := arena[len(arena)-2 : len(arena) : len(arena)]
			old, scratch = old[:0], scratch[:0]
			if v != nil {
				// The old entries are not rehashed against the stored
				// P(i): a damaged entry changes the recomputed digest, and
				// the ledger's signed digest then refuses the delta.
				if _, old, scratch, err = decodePartition(v, old, scratch); err != nil {
					return wrap(fmt.Sprintf("offline: status delta: partition %d", cs[i].p), err)
				}
			}
			merged = mergePartition(merged[:0], old, cs[i:j], &counts)
			if len(merged) == 0 {
				if err := b.Delete(key); err != nil {
					return fmt.Errorf("offline: status delta: %w", err)
				}
			} else {
				n := len(arena)
				arena = encodePartition(arena, merged, &pd)
				if err := b.Put(key, arena[n:len(arena):len(arena)]); err != nil {
					return fmt.Errorf("offline: status delta: %w", err)
				}
			}
			i = j
		}
		digest, err := digestPartitions(b)
		if err != nil {
			return err
		}
		return s.finishApply(tx, "status-delta", delta.To, digest, delta.Digest, &counts)
	})
}

// mergePartition merges a partition's sorted entries with its sorted
// changes into dst, keeping the per-reason counts. Entries are copied (the
// old ones point into a scratch buffer reused for the next partition, which
// is fine: dst is encoded before that).
func mergePartition(dst, old []statusItem, changes []keyedItem, counts *[numReasons]uint64) []statusItem {
	i := 0
	for _, c := range changes {
		for i < len(old) && bytes.Compare(old[i].card, c.card) < 0 {
			dst = append(dst, old[i])
			i++
		}
		if i < len(old) && bytes.Equal(old[i].card, c.card) {
			counts[old[i].reason]--
			i++
		}
		if !c.remove {
			dst = append(dst, c.statusItem)
			counts[c.reason]++
		}
	}
	return append(dst, old[i:]...)
}

// digestPartitions computes the list digest from the stored partition
// digests, in key (partition) order.
func digestPartitions(b *bolt.Bucket) ([digestLen]byte, error) {
	list := protocol.NewStatusListDigester()
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 2 || len(v) <= digestLen {
			return [digestLen]byte{}, fmt.Errorf("offline: status partition %x: %w", k, ErrCorrupt)
		}
		list.Add(binary.BigEndian.Uint16(k), [digestLen]byte(v[:digestLen]))
	}
	return list.Sum(), nil
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
