package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Entry is a journal record as stored: the decoded record, its exact bytes
// (what is hashed, batched and signed) and its hash.
type Entry struct {
	Record protocol.Record
	Raw    []byte
	Hash   [protocol.HashSize]byte
}

// Head describes the last record of the journal.
type Head struct {
	Seq  uint64                  // 0 for an empty journal
	Hash [protocol.HashSize]byte // the genesis value for an empty journal
	Time time.Time               // zero for an empty journal
}

// head is the meta value describing the last record, kept in the same
// transaction as the record so that it never disagrees with the journal.
type head struct {
	seq  uint64
	hash [protocol.HashSize]byte
	time int64  // Unix ms of the last record
	mono int64  // Clock.Monotonic at that record, ns
	boot uint64 // the Open that wrote it
}

const headSize = 8 + protocol.HashSize + 8 + 8 + 8

func (h *head) encode() []byte {
	b := make([]byte, headSize)
	binary.BigEndian.PutUint64(b, h.seq)
	copy(b[8:], h.hash[:])
	binary.BigEndian.PutUint64(b[40:], uint64(h.time))
	binary.BigEndian.PutUint64(b[48:], uint64(h.mono))
	binary.BigEndian.PutUint64(b[56:], h.boot)
	return b
}

func (s *Store) readHead(tx *bolt.Tx) (head, error) {
	v := tx.Bucket(bucketMeta).Get(keyHead)
	if v == nil {
		return head{hash: s.genesis}, nil
	}
	return decodeHead(v)
}

// decodeHead decodes a stored head: headSize bytes, a sequence from 1.
func decodeHead(v []byte) (head, error) {
	if len(v) != headSize || binary.BigEndian.Uint64(v) == 0 {
		return head{}, fmt.Errorf("offline: journal head %x: %w", v, ErrCorrupt)
	}
	h := head{
		seq:  binary.BigEndian.Uint64(v),
		time: int64(binary.BigEndian.Uint64(v[40:])),
		mono: int64(binary.BigEndian.Uint64(v[48:])),
		boot: binary.BigEndian.Uint64(v[56:]),
	}
	copy(h.hash[:], v[8:40])
	return h, nil
}

// recordClass says how a record counts against capacity.
type recordClass int

const (
	classNew      recordClass = iota // starts a money action: refused inside the reserve
	classEvidence                    // evidence of something that already happened: may use the reserve
)

// appendTx appends r inside tx: it writes a clock-changed record first if
// the wall clock jumped, assigns sequence, time and link, checks capacity and
// advances the head. It returns the stored entry.
func (s *Store) appendTx(tx *bolt.Tx, r protocol.Record, class recordClass) (Entry, error) {
	h, err := s.readHead(tx)
	if err != nil {
		return Entry{}, err
	}
	now, mono := s.opts.Clock.Now(), s.opts.Clock.Monotonic()
	if err := s.checkRoom(tx, h.seq, class); err != nil {
		return Entry{}, err
	}
	if h.seq > 0 {
		nowMs := now.UnixMilli()
		expected := h.time
		jumped := nowMs < h.time
		if h.boot == s.boot {
			expected = h.time + (int64(mono)-h.mono)/int64(time.Millisecond)
			d := time.Duration(nowMs-expected) * time.Millisecond
			jumped = jumped || d > s.opts.ClockStep || d < -s.opts.ClockStep
		}
		if jumped {
			reason := "step"
			if nowMs < h.time {
				reason = "backwards"
			}
			cr := protocol.Record{Kind: protocol.KindClockChanged, OldTime: expected, Reason: reason}
			if h, err = s.put(tx, h, cr, now, mono); err != nil {
				return Entry{}, err
			}
		}
	}
	h, err = s.put(tx, h, r, now, mono)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Record: r, Hash: h.hash}
	e.Record.Seq, e.Record.Time, e.Record.Prev = h.seq, h.time, nil
	return e, nil
}

func (s *Store) put(tx *bolt.Tx, h head, r protocol.Record, now time.Time, mono time.Duration) (head, error) {
	r.Seq = h.seq + 1
	r.Time = now.UnixMilli()
	r.Prev = h.hash[:]
	raw, err := protocol.EncodeRecord(&r)
	if err != nil {
		return h, fmt.Errorf("offline: journal append: %w: %w", ErrInvalid, err)
	}
	if err := tx.Bucket(bucketJournal).Put(be64(r.Seq), raw); err != nil {
		return h, fmt.Errorf("offline: journal append: %w", err)
	}
	if h.seq > 0 && r.Time < h.time {
		if err := keepHeadTime(tx, h.time); err != nil {
			return h, err
		}
	}
	nh := head{seq: r.Seq, hash: protocol.RecordHash(raw), time: r.Time, mono: int64(mono), boot: s.boot}
	if err := tx.Bucket(bucketMeta).Put(keyHead, nh.encode()); err != nil {
		return h, fmt.Errorf("offline: journal append: %w", err)
	}
	return nh, nil
}

// Append journals a record of a kind that is not a purchase (load, gate
// pass or denial, alarm, config applied) in one fsync'd commit and returns
// its sequence. Sequence, time and link are assigned by the store; the
// caller fills the payload. Purchases go through OpenIntent and friends.
func (s *Store) Append(r protocol.Record) (uint64, error) {
	switch r.Kind {
	case protocol.KindPurchaseIntent, protocol.KindPurchaseCompleted, protocol.KindPurchaseVoided,
		protocol.KindPurchaseUncertain, protocol.KindClockChanged, protocol.KindCardWrite:
		return 0, fmt.Errorf("offline: journal append: kind %v is written by the store itself: %w", r.Kind, ErrInvalid)
	}
	var seq uint64
	err := s.update("journal append", func(tx *bolt.Tx) error {
		e, err := s.appendTx(tx, r, classEvidence)
		seq = e.Record.Seq
		return err
	})
	return seq, err
}

// Head returns the last record's sequence, hash and time.
func (s *Store) Head() (Head, error) {
	var out Head
	err := s.view("head", func(tx *bolt.Tx) error {
		h, err := s.readHead(tx)
		if err != nil {
			return err
		}
		out = Head{Seq: h.seq, Hash: h.hash}
		if h.seq > 0 {
			out.Time = time.UnixMilli(h.time).UTC()
		}
		return nil
	})
	return out, err
}

// Records returns up to n records with sequence > after, in order.
func (s *Store) Records(after uint64, n int) ([]Entry, error) {
	var out []Entry
	err := s.view("journal read", func(tx *bolt.Tx) error {
		var err error
		out, err = readRecords(tx, after, n)
		return err
	})
	return out, err
}

func readRecords(tx *bolt.Tx, after uint64, n int) ([]Entry, error) {
	var out []Entry
	c := tx.Bucket(bucketJournal).Cursor()
	for k, v := c.Seek(be64(after + 1)); k != nil && len(out) < n; k, v = c.Next() {
		seq, err := journalSeq(k)
		if err != nil {
			return nil, err
		}
		r, err := protocol.DecodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("offline: journal read %d: %w: %w", seq, ErrCorrupt, err)
		}
		raw := bytes.Clone(v)
		out = append(out, Entry{Record: r, Raw: raw, Hash: protocol.RecordHash(raw)})
	}
	return out, nil
}

// journalSeq decodes a journal key: a sequence, 8 bytes big-endian. A key
// of another length is damage (or tampering) and ErrCorrupt.
func journalSeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("offline: journal key %x is not a sequence: %w", k, ErrCorrupt)
	}
	return binary.BigEndian.Uint64(k), nil
}

// VerifyResult summarises a successful Verify.
type VerifyResult struct {
	First uint64 // first record present (after purges); 0 if none
	Count uint64 // records checked
	Head  Head
}

// Verify walks the whole journal: every record decodes, sequences follow
// without a gap from the purge anchor (or 1), every record links to the hash
// of the one before (the first to the genesis value or the anchor) and the
// head matches the last record. The first problem is a *ChainError.
func (s *Store) Verify() (VerifyResult, error) {
	var res VerifyResult
	err := s.view("verify", func(tx *bolt.Tx) error {
		seq, prev := uint64(0), s.genesis
		if a := tx.Bucket(bucketMeta).Get(keyAnchor); a != nil {
			c, err := decodeCursor(a)
			if err != nil {
				return &ChainError{Seq: 0, Reason: fmt.Sprintf("purge anchor malformed (%x)", a)}
			}
			seq, prev = c.Seq, c.Hash
		}
		var err error
		res, err = s.walk(tx, seq, prev, true)
		return err
	})
	return res, err
}

// VerifyTail checks the part of the journal the ledger has not
// acknowledged yet, what a daemon checks at start before it takes money:
// from the acknowledged cursor (trusted: the ledger signed it) to the head,
// every record present, decoding, in sequence and linking to the one
// before, and the head naming the last. Its work is bounded by the
// unacknowledged records (at most Options.MaxUnacked), not the journal's
// length. The first problem is a *ChainError naming the sequence.
func (s *Store) VerifyTail() (VerifyResult, error) {
	var res VerifyResult
	err := s.view("verify tail", func(tx *bolt.Tx) error {
		c, err := s.cursor(tx)
		if err != nil {
			return err
		}
		res, err = s.walk(tx, c.Seq, c.Hash, false)
		return err
	})
	return res, err
}

// walk checks the records after seq, the first linking to prev, through
// the head. whole starts at the journal's first key, so that a record
// below seq+1 (one that should have been purged, or was slipped in) is
// found too.
func (s *Store) walk(tx *bolt.Tx, seq uint64, prev [protocol.HashSize]byte, whole bool) (VerifyResult, error) {
	var res VerifyResult
	h, err := s.readHead(tx)
	if err != nil {
		return res, err
	}
	c := tx.Bucket(bucketJournal).Cursor()
	k, v := c.Seek(be64(seq + 1))
	if whole {
		k, v = c.First()
	}
	for ; k != nil; k, v = c.Next() {
		want := seq + 1
		if len(k) != 8 || binary.BigEndian.Uint64(k) != want {
			return res, &ChainError{Seq: want, Reason: fmt.Sprintf("record missing (next key %x)", k)}
		}
		r, err := protocol.DecodeRecord(v)
		if err != nil {
			return res, &ChainError{Seq: want, Reason: err.Error()}
		}
		if r.Seq != want {
			return res, &ChainError{Seq: want, Reason: fmt.Sprintf("record carries sequence %d", r.Seq)}
		}
		if !bytes.Equal(r.Prev, prev[:]) {
			return res, &ChainError{Seq: want, Reason: "link does not match the previous record's hash"}
		}
		if res.First == 0 {
			res.First = want
		}
		seq, prev = want, protocol.RecordHash(v)
		res.Count++
	}
	if h.seq != seq || h.hash != prev {
		return res, &ChainError{Seq: seq + 1, Reason: fmt.Sprintf("head says %d, journal ends at %d", h.seq, seq)}
	}
	res.Head = Head{Seq: h.seq, Hash: h.hash}
	if h.seq > 0 {
		res.Head.Time = time.UnixMilli(h.time).UTC()
	}
	return res, nil
}
