package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Status reasons (protocol.StatusEntry.Reason). 0 in a delta removes a card.
const (
	ReasonRemoved   uint8 = 0
	ReasonLost      uint8 = 1 // 挂失
	ReasonFrozen    uint8 = 2 // 冻结 (overdrawn by a fault, or by operations)
	ReasonDormant   uint8 = 3 // unused for a year: verify at a kiosk
	ReasonCancelled uint8 = 4 // replaced by a reissued card
	ReasonExpired   uint8 = 5
)

var reasonNames = map[string]uint8{"lost": ReasonLost, "frozen": ReasonFrozen, "dormant": ReasonDormant, "cancelled": ReasonCancelled, "expired": ReasonExpired}

// ParseReason accepts a reason by name (lost, frozen, dormant, cancelled,
// expired) or number 1..5.
func ParseReason(s string) (uint8, error) {
	if r, ok := reasonNames[s]; ok {
		return r, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n < 1 || n > 5 {
		return 0, fmt.Errorf("ledger: status reason %q, want lost, frozen, dormant, cancelled or expired: %w", s, ErrInvalid)
	}
	return uint8(n), nil
}

// ReasonName returns a reason's name.
func ReasonName(r uint8) string {
	for k, v := range reasonNames {
		if v == r {
			return k
		}
	}
	if r == ReasonRemoved {
		return "removed"
	}
	return fmt.Sprintf("reason(%d)", r)
}

type statusVersion struct {
	Changes []protocol.StatusEntry `json:"changes"`
	Digest  []byte                 `json:"digest"`
	Time    time.Time              `json:"time"`
}

// StatusAnswer is the ledger's answer to a device holding version Have:
// either a snapshot of the whole list at Version, or a delta From → To.
// Digest is the status digest of the full list at Version (= To).
type StatusAnswer struct {
	Snapshot bool
	From     uint64 // delta only
	Version  uint64 // the list version the answer brings the device to
	// Entries: the whole list (snapshot) or the changes (delta; Reason 0
	// removes the card), sorted by card number.
	Entries []protocol.StatusEntry
	Digest  [protocol.HashSize]byte
}

func statusKey(card string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, protocol.StatusPartition([]byte(card))), card...)
}

// SetStatus puts card on the status list with reason (since now) in a new
// list version, and returns that version.
func (l *Ledger) SetStatus(card string, reason uint8) (uint64, error) {
	if reason < ReasonLost || reason > ReasonExpired {
		return 0, fmt.Errorf("ledger: status %s: reason %d: %w", card, reason, ErrInvalid)
	}
	return l.ChangeStatus([]protocol.StatusEntry{{CardNo: card, Reason: reason, Since: l.now().Unix()}})
}

// RemoveStatus takes card off the status list (unfrozen, 解挂) in a new
// version; ErrNotFound when it is not listed.
func (l *Ledger) RemoveStatus(card string) (uint64, error) {
	return l.ChangeStatus([]protocol.StatusEntry{{CardNo: card, Reason: ReasonRemoved}})
}

// ChangeStatus applies changes (Reason 0 removes a card; a card at most
// once) as one new status-list version, recomputing the digest of the
// partitions touched, and returns the new version. The list holds at most
// protocol.MaxStatusEntries cards (what one snapshot may carry).
func (l *Ledger) ChangeStatus(changes []protocol.StatusEntry) (uint64, error) {
	seen := map[string]bool{}
	for _, c := range changes {
		if !ValidCardNo(c.CardNo) || c.Reason > ReasonExpired || seen[c.CardNo] {
			return 0, fmt.Errorf("ledger: status change %q reason %d: %w", c.CardNo, c.Reason, ErrInvalid)
		}
		seen[c.CardNo] = true
	}
	if len(changes) == 0 {
		return 0, fmt.Errorf("ledger: status change: nothing to change: %w", ErrInvalid)
	}
	var version uint64
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		version, err = l.changeStatusTx(tx, changes)
		return err
	})
	if err != nil {
		return 0, err
	}
	l.log.Info("status list changed", "version", version, "changes", len(changes))
	return version, nil
}

func rehashPartition(sb, pb *bolt.Bucket, p uint16) error {
	prefix := binary.BigEndian.AppendUint16(nil, p)
	var d protocol.StatusPartitionDigester
	c := sb.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 17 {
			return fmt.Errorf("ledger: status entry %q: %w", k[2:], ErrCorrupt)
		}
		d.Add(k[2:], v[0], int64(binary.BigEndian.Uint64(v[1:9])))
	}
	if d.Len() == 0 {
		return pb.Delete(prefix)
	}
	s := d.Sum()
	return pb.Put(prefix, s[:])
}

func listDigest(pb *bolt.Bucket) [protocol.HashSize]byte {
	d := protocol.NewStatusListDigester()
	c := pb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		d.Add(binary.BigEndian.Uint16(k), [protocol.HashSize]byte(v))
	}
	return d.Sum()
}

// firstStatusList makes version 1 of the status list, empty, in a ledger
// that has none yet: devices take no money until they hold a signed list
// (fail closed), so a campus with no card listed must still give them one.
func (l *Ledger) firstStatusList(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if getU64(meta, keyStatusVersion) != 0 {
		return nil
	}
	d := listDigest(tx.Bucket(bucketStatusParts))
	if err := meta.Put(keyStatusVersion, be64(1)); err != nil {
		return err
	}
	if err := meta.Put(keyStatusDigest, d[:]); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bucketStatusLog), be64(1), statusVersion{Changes: []protocol.StatusEntry{}, Digest: d[:], Time: l.now().UTC()})
}

// StatusVersion returns the current status-list version and its digest.
func (l *Ledger) StatusVersion() (uint64, [protocol.HashSize]byte, error) {
	var (
		v uint64
		d [protocol.HashSize]byte
	)
	err := l.db.View(func(tx *bolt.Tx) error {
		v, d = currentStatus(tx)
		return nil
	})
	return v, d, err
}

func currentStatus(tx *bolt.Tx) (uint64, [protocol.HashSize]byte) {
	meta := tx.Bucket(bucketMeta)
	d := protocol.StatusDigest(nil)
	if raw := meta.Get(keyStatusDigest); len(raw) == protocol.HashSize {
		d = [protocol.HashSize]byte(raw)
	}
	return getU64(meta, keyStatusVersion), d
}

// Status answers a device holding version have: a delta of the changes
// since have when the ledger still has them and they are not too many,
// else a snapshot. have == current gives an empty delta; have beyond the
// current version is ErrStaleVersion (the device holds a list this ledger
// never issued).
func (l *Ledger) Status(have uint64) (StatusAnswer, error) {
	var ans StatusAnswer
	err := l.db.View(func(tx *bolt.Tx) error {
		cur, digest := currentStatus(tx)
		ans = StatusAnswer{Version: cur, Digest: digest, From: have}
		if have > cur {
			return fmt.Errorf("ledger: status: device holds version %d, the ledger is at %d: %w", have, cur, ErrStaleVersion)
		}
		if have == cur && have != 0 {
			return nil
		}
		lb := tx.Bucket(bucketStatusLog)
		if have > 0 && lb.Get(be64(have+1)) != nil {
			merged := map[string]protocol.StatusEntry{}
			n := 0
			for v := have + 1; v <= cur; v++ {
				var sv statusVersion
				if err := getJSON(lb, be64(v), &sv); err != nil {
					return fmt.Errorf("ledger: status version %d: %w", v, err)
				}
				n += len(sv.Changes)
				for _, c := range sv.Changes {
					merged[c.CardNo] = c
				}
				if n > l.opts.SnapshotAfter {
					break
				}
			}
			if n <= l.opts.SnapshotAfter {
				ans.Entries = sortedEntries(merged)
				return nil
			}
		}
		ans.Snapshot, ans.From = true, 0
		return tx.Bucket(bucketStatus).ForEach(func(k, v []byte) error {
			if len(v) != 17 {
				return fmt.Errorf("ledger: status entry %q: %w", k[2:], ErrCorrupt)
			}
			ans.Entries = append(ans.Entries, protocol.StatusEntry{CardNo: string(k[2:]), Reason: v[0], Since: int64(binary.BigEndian.Uint64(v[1:9]))})
			return nil
		})
	})
	if err != nil {
		return StatusAnswer{}, err
	}
	if ans.Snapshot {
		slices.SortFunc(ans.Entries, func(a, b protocol.StatusEntry) int { return bytes.Compare([]byte(a.CardNo), []byte(b.CardNo)) })
	}
	return ans, nil
}

func sortedEntries(m map[string]protocol.StatusEntry) []protocol.StatusEntry {
	out := make([]protocol.StatusEntry, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// StatusOf returns a card's entry on the current list.
func (l *Ledger) StatusOf(card string) (protocol.StatusEntry, bool, error) {
	var (
		e  protocol.StatusEntry
		ok bool
	)
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStatus).Get(statusKey(card))
		if len(v) == 17 {
			e, ok = protocol.StatusEntry{CardNo: card, Reason: v[0], Since: int64(binary.BigEndian.Uint64(v[1:9]))}, true
		}
		return nil
	})
	return e, ok, err
}

// StatusCount returns how many cards the current status list holds.
func (l *Ledger) StatusCount() (uint64, error) {
	var n uint64
	err := l.db.View(func(tx *bolt.Tx) error {
		n = getU64(tx.Bucket(bucketMeta), keyStatusCount)
		return nil
	})
	return n, err
}

// changeStatusTx applies checked changes in tx as one new version (see
// ChangeStatus) and returns it.
func (l *Ledger) changeStatusTx(tx *bolt.Tx, changes []protocol.StatusEntry) (uint64, error) {
	sb, pb := tx.Bucket(bucketStatus), tx.Bucket(bucketStatusParts)
	parts := map[uint16]bool{}
	v, err := nextSeq(tx, keyStatusVersion)
	if err != nil {
		return 0, err
	}
	meta := tx.Bucket(bucketMeta)
	count := getU64(meta, keyStatusCount)
	for _, c := range changes {
		k := statusKey(c.CardNo)
		parts[binary.BigEndian.Uint16(k)] = true
		listed := sb.Get(k) != nil
		if c.Reason == ReasonRemoved {
			if !listed {
				return 0, fmt.Errorf("ledger: status remove %s: not listed: %w", c.CardNo, ErrNotFound)
			}
			if err := sb.Delete(k); err != nil {
				return 0, err
			}
			count--
			continue
		}
		if !listed {
			if count++; count > protocol.MaxStatusEntries {
				return 0, fmt.Errorf("ledger: status list full: a snapshot holds at most %d cards: %w", protocol.MaxStatusEntries, ErrInvalid)
			}
		}
		val := append([]byte{c.Reason}, be64(uint64(c.Since))...)
		if err := sb.Put(k, append(val, be64(v)...)); err != nil {
			return 0, err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		if err := rehashPartition(sb, pb, p); err != nil {
			return 0, err
		}
	}
	d := listDigest(pb)
	if err := meta.Put(keyStatusDigest, d[:]); err != nil {
		return 0, err
	}
	if err := meta.Put(keyStatusCount, be64(count)); err != nil {
		return 0, err
	}
	sorted := slices.Clone(changes)
	slices.SortFunc(sorted, func(a, b protocol.StatusEntry) int { return bytes.Compare([]byte(a.CardNo), []byte(b.CardNo)) })
	lb := tx.Bucket(bucketStatusLog)
	if err := putJSON(lb, be64(v), statusVersion{Changes: sorted, Digest: d[:], Time: l.now().UTC()}); err != nil {
		return 0, err
	}
	// Forget the change log of versions too old to deliver as deltas.
	c := lb.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k)+uint64(l.opts.StatusHistory) < v; k, _ = c.First() {
		if err := lb.Delete(k); err != nil {
			return 0, err
		}
	}
	return v, nil
}
