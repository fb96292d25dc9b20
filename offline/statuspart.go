package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/openykt/yktd/protocol"
)

// The status bucket (schema 4) holds one value per non-empty partition of
// the list digest (protocol.StatusDigest), keyed by be16(partition):
//
//	value = P(partition)(32) ‖ entry ‖ entry ‖ ...   (at least one entry)
//	entry = hdr(1) ‖ card ‖ reason(1) ‖ uvarint(since) ‖ uvarint(version)
//	hdr   = 0x80 | n when the card is n decimal digits, stored packed BCD in
//	        ceil(n/2) bytes (high nibble first, an odd count padded with F);
//	        n otherwise, the card stored as its n ASCII bytes (1 <= n <= 32)
//
// Entries are sorted by card number bytes (the digest's order), every
// varint minimal, nothing after the last entry: one list, one encoding.
//
// Grouping a partition's ~15 entries (at 1M cards) into one value keeps the
// file small (bbolt spends 16 bytes of element header per key: one per
// partition instead of one per card) and lets a delta rehash a partition
// from the one value it rewrites; the list digest is then recomputed from
// the 32-byte prefixes alone. The lookup hashes the card to find its
// partition, reads one value and compares encoded cards, without decoding.

const digestLen = protocol.HashSize

// statusItem is one decoded entry; card is the ASCII card number and raw,
// when set, the entry's stored bytes (re-used as they are when an entry
// moves unchanged into a rewritten partition).
type statusItem struct {
	card    []byte
	reason  Reason
	since   int64
	version uint64
	raw     []byte
}

func partitionKey(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

// appendCard appends hdr ‖ card in the stored form. card must be valid.
func appendCard(dst, card []byte) []byte {
	digits := true
	for _, c := range card {
		if c < '0' || c > '9' {
			digits = false
			break
		}
	}
	if !digits {
		dst = append(dst, byte(len(card)))
		return append(dst, card...)
	}
	dst = append(dst, 0x80|byte(len(card)))
	for i := 0; i < len(card); i += 2 {
		lo := byte(0xF)
		if i+1 < len(card) {
			lo = card[i+1] - '0'
		}
		dst = append(dst, (card[i]-'0')<<4|lo)
	}
	return dst
}

// cardField returns the length of the stored card field at the start of v
// (hdr included) and the card's length in characters, or 0, 0 if v does
// not start with a well-formed one.
func cardField(v []byte) (size, n int) {
	if len(v) == 0 {
		return 0, 0
	}
	n = int(v[0] & 0x7F)
	if n == 0 || n > maxCardNo {
		return 0, 0
	}
	size = 1 + n
	if v[0]&0x80 != 0 {
		size = 1 + (n+1)/2
	}
	if len(v) < size {
		return 0, 0
	}
	return size, n
}

// decodeCard appends the ASCII card of a stored card field to dst, checking
// that the field is the canonical encoding.
func decodeCard(dst, field []byte, n int) ([]byte, bool) {
	if field[0]&0x80 == 0 {
		start := len(dst)
		dst = append(dst, field[1:]...)
		card := dst[start:]
		if !validCardNo(string(card)) {
			return dst, false
		}
		for _, c := range card {
			if c < '0' || c > '9' {
				return dst, true
			}
		}
		return dst, false // all digits must be packed
	}
	for _, b := range field[1 : 1+n/2] {
		if b>>4 > 9 || b&0xF > 9 {
			return dst, false
		}
		dst = append(dst, '0'+b>>4, '0'+b&0xF)
	}
	if n%2 == 1 {
		b := field[len(field)-1]
		if b>>4 > 9 || b&0xF != 0xF {
			return dst, false
		}
		dst = append(dst, '0'+b>>4)
	}
	return dst, true
}

// entryTail parses reason ‖ uvarint(since) ‖ uvarint(version) at the start
// of v and returns their size (0 if malformed).
func entryTail(v []byte) (r Reason, since int64, version uint64, size int) {
	if len(v) < 3 {
		return 0, 0, 0, 0
	}
	r = Reason(v[0])
	if !r.Valid() {
		return 0, 0, 0, 0
	}
	s, n := uvarintMinimal(v[1:])
	if n <= 0 || s > math.MaxInt64 {
		return 0, 0, 0, 0
	}
	ver, m := uvarintMinimal(v[1+n:])
	if m <= 0 {
		return 0, 0, 0, 0
	}
	return r, int64(s), ver, 1 + n + m
}

// findInPartition looks up a card (its stored card field, want) in a
// partition value without allocating.
func findInPartition(v, want []byte) (r Reason, since int64, version uint64, found bool, err error) {
	if len(v) < digestLen {
		return 0, 0, 0, false, fmt.Errorf("offline: status partition of %d bytes: %w", len(v), ErrCorrupt)
	}
	for rest := v[digestLen:]; len(rest) > 0; {
		cs, _ := cardField(rest)
		if cs == 0 {
			return 0, 0, 0, false, fmt.Errorf("offline: status partition card: %w", ErrCorrupt)
		}
		r, since, version, ts := entryTail(rest[cs:])
		if ts == 0 {
			return 0, 0, 0, false, fmt.Errorf("offline: status partition entry: %w", ErrCorrupt)
		}
		if bytes.Equal(rest[:cs], want) {
			return r, since, version, true, nil
		}
		rest = rest[cs+ts:]
	}
	return 0, 0, 0, false, nil
}

// decodePartition decodes a partition value strictly, appending its
// entries to items (their cards carved from arena) and returning the stored
// digest.
func decodePartition(v []byte, items []statusItem, arena []byte) (digest [digestLen]byte, _ []statusItem, _ []byte, err error) {
	bad := func(what string) error { return fmt.Errorf("offline: status partition %s: %w", what, ErrCorrupt) }
	if len(v) <= digestLen {
		return digest, items, arena, bad("too short")
	}
	copy(digest[:], v)
	first := len(items)
	for rest := v[digestLen:]; len(rest) > 0; {
		cs, n := cardField(rest)
		if cs == 0 {
			return digest, items, arena, bad("card")
		}
		start := len(arena)
		var ok bool
		if arena, ok = decodeCard(arena, rest[:cs], n); !ok {
			return digest, items, arena, bad("card encoding")
		}
		card := arena[start:len(arena):len(arena)]
		r, since, version, ts := entryTail(rest[cs:])
		if ts == 0 {
			return digest, items, arena, bad("entry")
		}
		if len(items) > first && bytes.Compare(items[len(items)-1].card, card) >= 0 {
			return digest, items, arena, bad("order")
		}
		items = append(items, statusItem{card: card, reason: r, since: since, version: version, raw: rest[: cs+ts : cs+ts]})
		rest = rest[cs+ts:]
	}
	return digest, items, arena, nil
}

// encodePartition appends the value of a partition holding items (sorted,
// non-empty) to dst, with its digest computed by pd.
func encodePartition(dst []byte, items []statusItem, pd *protocol.StatusPartitionDigester) []byte {
	for _, it := range items {
		pd.Add(it.card, uint8(it.reason), it.since)
	}
	d := pd.Sum()
	dst = append(dst, d[:]...)
	for _, it := range items {
		if it.raw != nil {
			dst = append(dst, it.raw...)
			continue
		}
		dst = appendCard(dst, it.card)
		dst = append(dst, byte(it.reason))
		dst = binary.AppendUvarint(dst, uint64(it.since))
		dst = binary.AppendUvarint(dst, it.version)
	}
	return dst
}

// maxStatusEntry bounds an encoded entry.
const maxStatusEntry = 1 + maxCardNo + 1 + 2*binary.MaxVarintLen64
