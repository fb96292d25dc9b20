package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
)

// StatusEntry is one card of a status list as the digest sees it: the card
// number's bytes, the reason code (1 lost, 2 frozen, 3 dormant, 4 cancelled,
// 5 expired) and since, in Unix seconds. The entry's list version is not
// digested: the version is signed beside the digest.
type StatusEntry struct {
	CardNo string
	Reason uint8
	Since  int64
}

// StatusPartitions is the number of partitions of the status digest.
const StatusPartitions = 1 << 16

// StatusDigest is the canonical digest of a status list, version 2: the
// value the ledger signs with each list version and a terminal checks after
// applying a snapshot or delta. It is a two-level hash, so that a terminal
// updates it after a delta by rehashing only the partitions the delta
// touched:
//
//	partition(card) = SHA-256(card)[0] ‖ SHA-256(card)[1], read as a big-endian
//	                  uint16 (0 .. 65535)
//	entry(e)        = uvarint(len(card)) ‖ card ‖ reason(1) ‖ be64(since)
//	P(i)            = SHA-256( entry(e) for each entry e with partition(e.card) = i,
//	                  sorted by card number bytes, concatenated )
//	digest          = SHA-256( "yktd-status-v2" ‖ for each partition i that holds
//	                  at least one entry, in ascending i: be16(i) ‖ P(i) )
//
// card is the card number's bytes as listed (ASCII), with no terminator;
// uvarint is the unsigned LEB128 varint (Go's encoding/binary.AppendUvarint:
// 7 bits a byte, least significant group first, high bit set on all bytes
// but the last); be16 and be64 are big-endian, since as two's complement.
// Empty partitions contribute nothing, so the empty list's digest is
// SHA-256("yktd-status-v2"). A list names each card at most once.
//
// Because entry() is prefix-free and every level is SHA-256 over an
// unambiguous concatenation, two lists with the same digest are the same
// list unless SHA-256 collides. (An additive or XOR combination of entry
// hashes would be cheaper to update but is not collision resistant.)
func StatusDigest(entries []StatusEntry) [HashSize]byte {
	type pe struct {
		p uint16
		e StatusEntry
	}
	es := make([]pe, len(entries))
	for i, e := range entries {
		es[i] = pe{StatusPartition([]byte(e.CardNo)), e}
	}
	slices.SortFunc(es, func(a, b pe) int {
		if a.p != b.p {
			return int(a.p) - int(b.p)
		}
		return bytes.Compare([]byte(a.e.CardNo), []byte(b.e.CardNo))
	})
	var (
		list = NewStatusListDigester()
		part StatusPartitionDigester
	)
	for i, x := range es {
		part.Add([]byte(x.e.CardNo), x.e.Reason, x.e.Since)
		if i == len(es)-1 || es[i+1].p != x.p {
			list.Add(x.p, part.Sum())
		}
	}
	return list.Sum()
}

// StatusPartition returns the partition of a card: the first two bytes of
// SHA-256(card), big-endian.
func StatusPartition(card []byte) uint16 {
	h := sha256.Sum256(card)
	return binary.BigEndian.Uint16(h[:2])
}

// AppendStatusEntry appends entry(e) of StatusDigest's definition to dst.
func AppendStatusEntry(dst, card []byte, reason uint8, since int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(card)))
	dst = append(dst, card...)
	dst = append(dst, reason)
	return binary.BigEndian.AppendUint64(dst, uint64(since))
}

// StatusPartitionDigester computes P(i) of one partition from its entries,
// fed in card order. The zero value is ready; Sum resets it for the next
// partition, reusing its buffer.
type StatusPartitionDigester struct {
	buf []byte
	n   int
}

// Add adds the partition's next entry (entries sorted by card bytes).
func (d *StatusPartitionDigester) Add(card []byte, reason uint8, since int64) {
	d.buf = AppendStatusEntry(d.buf, card, reason, since)
	d.n++
}

// Len returns how many entries were added since the last Sum.
func (d *StatusPartitionDigester) Len() int { return d.n }

// Sum returns P(i) of the entries added and resets the digester.
func (d *StatusPartitionDigester) Sum() [HashSize]byte {
	s := sha256.Sum256(d.buf)
	d.buf, d.n = d.buf[:0], 0
	return s
}

// StatusListDigester computes the list digest from the digests of the
// non-empty partitions, fed in ascending partition order.
type StatusListDigester struct {
	h   hash.Hash
	buf []byte // batched: one Write per partition costs more than the hashing
}

// NewStatusListDigester returns a digester of the empty list.
func NewStatusListDigester() *StatusListDigester {
	d := &StatusListDigester{h: sha256.New(), buf: make([]byte, 0, 32<<10)}
	d.buf = append(d.buf, "yktd-status-v2"...)
	return d
}

// Add adds the next non-empty partition's index and digest.
func (d *StatusListDigester) Add(partition uint16, digest [HashSize]byte) {
	if len(d.buf) > cap(d.buf)-(2+HashSize) {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
	d.buf = binary.BigEndian.AppendUint16(d.buf, partition)
	d.buf = append(d.buf, digest[:]...)
}

// Sum returns the list digest.
func (d *StatusListDigester) Sum() (out [HashSize]byte) {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
	d.h.Sum(out[:0])
	return out
}
