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

// StatusDigest is the canonical digest of a status list, the value the
// ledger signs with each version and a terminal checks after applying a
// snapshot or delta:
//
//	SHA-256( "yktd-status-v1" ‖ for each entry, sorted by card number bytes:
//	         uvarint(len(card)) ‖ card ‖ reason(1) ‖ be64(since) )
//
// uvarint is the unsigned LEB128 varint (encoding/binary.AppendUvarint);
// since is two's complement big-endian. The empty list's digest is
// SHA-256("yktd-status-v1"). A list names each card once.
func StatusDigest(entries []StatusEntry) [HashSize]byte {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b StatusEntry) int { return bytes.Compare([]byte(a.CardNo), []byte(b.CardNo)) })
	d := NewStatusDigester()
	for _, e := range es {
		d.Add([]byte(e.CardNo), e.Reason, e.Since)
	}
	return d.Sum()
}

// StatusDigester computes StatusDigest over entries fed in card order, for
// a list too big to hold twice in memory.
type StatusDigester struct {
	h   hash.Hash
	buf []byte // entries are batched: one Write per entry costs more than the hashing
}

// NewStatusDigester returns a digester of the empty list.
func NewStatusDigester() *StatusDigester {
	d := &StatusDigester{h: sha256.New(), buf: make([]byte, 0, 32<<10)}
	d.buf = append(d.buf, "yktd-status-v1"...)
	return d
}

// Add adds the next entry; entries must come sorted by card number bytes.
func (d *StatusDigester) Add(card []byte, reason uint8, since int64) {
	if len(d.buf) > cap(d.buf)-(binary.MaxVarintLen64+len(card)+9) {
		d.h.Write(d.buf)
		d.buf = d.buf[:0]
	}
	d.buf = binary.AppendUvarint(d.buf, uint64(len(card)))
	d.buf = append(d.buf, card...)
	d.buf = append(d.buf, reason)
	d.buf = binary.BigEndian.AppendUint64(d.buf, uint64(since))
}

// Sum returns the digest of the entries added.
func (d *StatusDigester) Sum() (out [HashSize]byte) {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
	d.h.Sum(out[:0])
	return out
}
