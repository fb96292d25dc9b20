package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/openykt/yktd/protocol"

	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the schema this program writes. Each migration moves a
// store from version-1 to version; they run in order in one transaction at
// Open, so a crash mid-migration leaves the old schema intact.
const schemaVersion = 6

type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

var migrations = []migration{
	{1, "journal, intents, sync cursor", func(tx *bolt.Tx) error {
		return createBuckets(tx, bucketMeta, bucketJournal, bucketIntents, bucketSync)
	}},
	{2, "status list", func(tx *bolt.Tx) error {
		if err := createBuckets(tx, bucketStatus, bucketStatusMeta); err != nil {
			return err
		}
		sm := tx.Bucket(bucketStatusMeta)
		if err := sm.Put(keyVersion, be64(0)); err != nil {
			return err
		}
		d := emptyStatusDigest()
		if err := sm.Put(keyDigest, d[:]); err != nil {
			return err
		}
		return sm.Put(keyCounts, make([]byte, 8*numReasons))
	}},
	{3, "rules, pending loads, QR nonces", func(tx *bolt.Tx) error {
		return createBuckets(tx, bucketRules, bucketPending, bucketQRNonce)
	}},
	{4, "status list in digest partitions", migrateStatusPartitions},
	{5, "signed rules and QR nonce cache", migrateRulesNonces},
	{6, "card-write intents", func(tx *bolt.Tx) error {
		return createBuckets(tx, bucketCardWrites)
	}},
}

// migrateStatusPartitions rewrites a status bucket of one key per card
// (schema 3) into one value per digest partition (statuspart.go) and
// replaces the stored v1 digest by the v2 digest of the same list. The
// list's version and counts do not change.
func migrateStatusPartitions(tx *bolt.Tx) error {
	old := tx.Bucket(bucketStatus)
	var es []keyedItem
	if err := old.ForEach(func(k, v []byte) error {
		r, since, ver, err := decodeStatusValue(v)
		if err != nil {
			return err
		}
		if !validCardNo(string(k)) {
			return fmt.Errorf("offline: status card %q: %w", k, ErrCorrupt)
		}
		card := bytes.Clone(k)
		es = append(es, keyedItem{p: protocol.StatusPartition(card), statusItem: statusItem{card: card, reason: r, since: since, version: ver}})
		return nil
	}); err != nil {
		return err
	}
	slices.SortFunc(es, cmpKeyed)
	if err := tx.DeleteBucket(bucketStatus); err != nil {
		return err
	}
	b, err := tx.CreateBucket(bucketStatus)
	if err != nil {
		return err
	}
	b.FillPercent = snapshotFill
	var (
		pd    protocol.StatusPartitionDigester
		items []statusItem
	)
	for i, e := range es {
		items = append(items, e.statusItem)
		if i < len(es)-1 && es[i+1].p == e.p {
			continue
		}
		if err := b.Put(partitionKey(e.p), encodePartition(nil, items, &pd)); err != nil {
			return err
		}
		items = items[:0]
	}
	d, err := digestPartitions(b)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketStatusMeta).Put(keyDigest, d[:])
}

// migrateRulesNonces gives the rules and qrnonce buckets (created empty by
// migration 3 and never written before this schema) their schema-5 layout:
// rules.go and qrnonce.go. It recreates both empty and adds the nonce
// expiry index and the nonce count.
func migrateRulesNonces(tx *bolt.Tx) error {
	for _, n := range [][]byte{bucketRules, bucketQRNonce, bucketQRExpiry} {
		if tx.Bucket(n) != nil {
			if err := tx.DeleteBucket(n); err != nil {
				return err
			}
		}
	}
	if err := createBuckets(tx, bucketRules, bucketQRNonce, bucketQRExpiry); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyNonceCount, be64(0))
}

func createBuckets(tx *bolt.Tx, names ...[]byte) error {
	for _, n := range names {
		if _, err := tx.CreateBucketIfNotExists(n); err != nil {
			return err
		}
	}
	return nil
}

// schemaOf returns the schema version of the store in tx: 0 for a file
// without one (a new file), ErrCorrupt for a damaged value (which must not
// be taken for 0: the migrations would run again over the data).
func schemaOf(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keySchema)
	if v == nil {
		return 0, nil
	}
	n, err := decodeUint64(v)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("offline: schema version %x: %w", v, ErrCorrupt)
	}
	return n, nil
}

// decodeUint64 decodes a stored be64 value (schema, epoch, counts).
func decodeUint64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("value of %d bytes, want 8: %w", len(v), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// migrate brings the store in tx up to version target, refusing a newer one.
func migrate(tx *bolt.Tx, target uint64) error {
	cur, err := schemaOf(tx)
	if err != nil {
		return err
	}
	if cur > schemaVersion {
		return fmt.Errorf("offline: %w (schema %d, this program knows %d): upgrade yktd", ErrSchemaTooNew, cur, schemaVersion)
	}
	for _, m := range migrations {
		if m.version <= cur || m.version > target {
			continue
		}
		if err := m.apply(tx); err != nil {
			return wrap(fmt.Sprintf("offline: migration %d (%s)", m.version, m.name), err)
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, be64(m.version)); err != nil {
			return fmt.Errorf("offline: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}
