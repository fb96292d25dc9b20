package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Cursor is how far the ledger has acknowledged the journal: every record
// up to Seq, whose hash is Hash (the chain head the ledger holds).
type Cursor struct {
	Seq  uint64
	Hash [protocol.HashSize]byte // the genesis value while Seq is 0
}

// SyncCursor returns the acknowledged-through cursor.
func (s *Store) SyncCursor() (Cursor, error) {
	var c Cursor
	err := s.view("sync cursor", func(tx *bolt.Tx) error {
		var err error
		c, err = s.cursor(tx)
		return err
	})
	return c, err
}

// cursor reads the acknowledged cursor; a damaged value is ErrCorrupt.
func (s *Store) cursor(tx *bolt.Tx) (Cursor, error) {
	v := tx.Bucket(bucketSync).Get(keyAcked)
	if v == nil {
		return Cursor{Hash: s.genesis}, nil
	}
	c, err := decodeCursor(v)
	if err != nil {
		return Cursor{}, fmt.Errorf("offline: sync cursor: %w", err)
	}
	return c, nil
}

// readCursor is cursor with a damaged value read as the genesis cursor
// (nothing acknowledged): a caller that only writes a newer cursor or
// re-sends records loses nothing by it.
func (s *Store) readCursor(tx *bolt.Tx) Cursor {
	c, err := s.cursor(tx)
	if err != nil {
		return Cursor{Hash: s.genesis}
	}
	return c
}

// decodeCursor decodes a sequence ‖ hash value (the sync cursor and the
// purge anchor): 8 bytes big-endian from 1, then the record's hash.
func decodeCursor(v []byte) (Cursor, error) {
	if len(v) != 8+protocol.HashSize || binary.BigEndian.Uint64(v) == 0 {
		return Cursor{}, fmt.Errorf("sequence and hash %x: %w", v, ErrCorrupt)
	}
	c := Cursor{Seq: binary.BigEndian.Uint64(v)}
	copy(c.Hash[:], v[8:])
	return c, nil
}

func encodeCursor(c Cursor) []byte { return append(be64(c.Seq), c.Hash[:]...) }

// Unacked returns up to n records after the cursor, in order: the next batch
// to send.
func (s *Store) Unacked(n int) ([]Entry, error) {
	var out []Entry
	err := s.view("unacked", func(tx *bolt.Tx) error {
		var err error
		c, err := s.cursor(tx)
		if err != nil {
			return err
		}
		out, err = readRecords(tx, c.Seq, n)
		return err
	})
	return out, err
}

// Ack records that the ledger holds every record through seq, whose hash
// must be hash. An ack beyond the head, behind the cursor, or naming another
// hash is refused with ErrBadAck. Acknowledging the cursor again is a no-op.
func (s *Store) Ack(seq uint64, hash [protocol.HashSize]byte) error {
	return s.update("ack", func(tx *bolt.Tx) error {
		cur := s.readCursor(tx)
		if seq == cur.Seq && hash == cur.Hash {
			return nil
		}
		if seq <= cur.Seq {
			return fmt.Errorf("offline: ack %d: already acknowledged through %d: %w", seq, cur.Seq, ErrBadAck)
		}
		v := tx.Bucket(bucketJournal).Get(be64(seq))
		if v == nil {
			return fmt.Errorf("offline: ack %d: no such record: %w", seq, ErrBadAck)
		}
		if protocol.RecordHash(v) != hash {
			return fmt.Errorf("offline: ack %d: hash %x does not match the record: %w", seq, hash[:8], ErrBadAck)
		}
		if err := tx.Bucket(bucketSync).Put(keyAcked, encodeCursor(Cursor{Seq: seq, Hash: hash})); err != nil {
			return fmt.Errorf("offline: ack %d: %w", seq, err)
		}
		return nil
	})
}

// purgeBatch bounds the records deleted per Purge call (one transaction).
const purgeBatch = 10_000

// Purge deletes acknowledged records older than Options.Retention, oldest
// first, at most purgeBatch per call, and returns how many it deleted. It
// never deletes a record the ledger has not acknowledged. The last deleted
// record's sequence and hash become the anchor Verify starts from.
func (s *Store) Purge() (int, error) {
	n := 0
	err := s.update("purge", func(tx *bolt.Tx) error {
		n = 0
		cur, err := s.cursor(tx)
		if err != nil {
			return err
		}
		acked := cur.Seq
		cutoff := s.opts.Clock.Now().Add(-s.opts.Retention).UnixMilli()
		c := tx.Bucket(bucketJournal).Cursor()
		var last []byte
		var lastSeq uint64
		for k, v := c.First(); k != nil && n < purgeBatch; k, v = c.First() {
			seq, err := journalSeq(k)
			if err != nil {
				return err
			}
			if seq > acked {
				break
			}
			r, err := protocol.DecodeRecord(v)
			if err != nil {
				return fmt.Errorf("offline: purge %d: %w: %w", seq, ErrCorrupt, err)
			}
			if r.Time >= cutoff {
				break
			}
			last, lastSeq = bytes.Clone(v), seq
			if err := c.Delete(); err != nil {
				return fmt.Errorf("offline: purge %d: %w", seq, err)
			}
			n++
		}
		if n == 0 {
			return nil
		}
		h := protocol.RecordHash(last)
		if err := tx.Bucket(bucketMeta).Put(keyAnchor, encodeCursor(Cursor{Seq: lastSeq, Hash: h})); err != nil {
			return fmt.Errorf("offline: purge: %w", err)
		}
		return nil
	})
	return n, err
}
