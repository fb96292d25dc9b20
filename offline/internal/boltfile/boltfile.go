// Package boltfile checks a bbolt file against its meta pages with plain
// file reads, before bbolt maps it. bbolt trusts its file: it maps more
// than the file holds and reads the pages its meta page names, so a file
// cut short (a full disk, an interrupted copy) faults with SIGBUS in the
// first transaction, and a file that is not bbolt's is initialised over or
// refused with a bare "invalid database". Check tells those cases apart.
//
// The layout read here is bbolt's on-disk format version 2 (go.etcd.io/bbolt
// internal/common: page header, meta), in the host's byte order as bbolt
// writes it.
package boltfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
)

// Problems Check finds; match them with errors.Is.
var (
	// ErrEmpty: the file has no bytes.
	ErrEmpty = errors.New("the file is empty")
	// ErrNotBolt: neither meta page carries bbolt's magic number.
	ErrNotBolt = errors.New("the file is not a bbolt database")
	// ErrBadMeta: a meta page carries the magic but none is valid
	// (checksum, version or fields), or the file ends inside the first one.
	ErrBadMeta = errors.New("no valid bbolt meta page")
	// ErrTruncated: the newest valid meta page names pages beyond the end
	// of the file.
	ErrTruncated = errors.New("truncated")
)

// On-disk layout (bbolt internal/common).
const (
	magic          = 0xED0CDAED
	version        = 2
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	metaSize       = 64 // magic, version, pageSize, flags u32; root, sequence, freelist, pgid, txid, checksum u64
	metaEnd        = pageHeaderSize + metaSize
	noFreelist     = math.MaxUint64
	minPageSize    = 1 << 10
	maxPageSize    = 1 << 24 // bbolt looks for the second meta page up to here
)

// Meta is what Check read from the meta page bbolt will use.
type Meta struct {
	PageSize  int64  // bytes
	HighWater uint64 // pages in use: the file must hold HighWater*PageSize bytes
	TxID      uint64
	Root      uint64 // page of the root bucket
	Freelist  uint64 // page of the freelist; math.MaxUint64 for none
}

// Check reads the two meta pages of the bbolt file r of size bytes and
// returns the one bbolt will use (the valid one with the highest
// transaction id), or an error wrapping ErrEmpty, ErrNotBolt, ErrBadMeta or
// ErrTruncated with what was found. It reads the meta pages before the
// caller takes the size, so a writer growing the file meanwhile cannot
// make a good file look short: bbolt never shrinks a file.
func Check(r io.ReaderAt, size func() (int64, error)) (Meta, error) {
	var m0, m1 meta
	var buf [metaEnd]byte
	n, err := r.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return Meta{}, fmt.Errorf("read meta page 0: %w", err)
	}
	m0 = parseMeta(buf[:n])
	// The second meta page starts one page in; with the first one unusable,
	// try every page size bbolt could have used, as bbolt does.
	sizes := []int64{}
	if m0.valid() {
		sizes = append(sizes, int64(m0.pageSize))
	} else {
		for ps := int64(minPageSize); ps <= maxPageSize; ps <<= 1 {
			sizes = append(sizes, ps)
		}
	}
	for _, ps := range sizes {
		n, err := r.ReadAt(buf[:], ps)
		if err != nil && err != io.EOF {
			return Meta{}, fmt.Errorf("read meta page 1: %w", err)
		}
		if n == 0 {
			break
		}
		m := parseMeta(buf[:n])
		if m.valid() && int64(m.pageSize) != ps {
			m.err = fmt.Sprintf("page size %d at offset %d", m.pageSize, ps)
		}
		if m.valid() {
			m1 = m
			break
		}
		if m.hasMagic && !m1.hasMagic {
			m1 = m // a damaged one, for the message
		}
	}
	sz, err := size()
	if err != nil {
		return Meta{}, err
	}
	switch {
	case sz == 0:
		return Meta{}, ErrEmpty
	case !m0.hasMagic && !m1.hasMagic:
		return Meta{}, fmt.Errorf("%w (%d bytes)", ErrNotBolt, sz)
	case !m0.valid() && !m1.valid():
		if sz < metaEnd {
			return Meta{}, fmt.Errorf("%w: the file is %d bytes, it ends inside the first meta page", ErrBadMeta, sz)
		}
		return Meta{}, fmt.Errorf("%w: meta page 0: %s, meta page 1: %s", ErrBadMeta, m0.problem(), m1.problem())
	}
	use := m0
	if !m0.valid() || m1.valid() && m1.txid > m0.txid {
		use = m1
	}
	ps := int64(use.pageSize)
	if use.pgid > uint64(math.MaxInt64/ps) || sz < int64(use.pgid)*ps {
		need := "more than 2^63"
		if use.pgid <= uint64(math.MaxInt64/ps) {
			need = fmt.Sprint(int64(use.pgid) * ps)
		}
		return Meta{}, fmt.Errorf("%w: the file is %d bytes, its %d pages of %d bytes end at %s", ErrTruncated, sz, use.pgid, ps, need)
	}
	return Meta{PageSize: ps, HighWater: use.pgid, TxID: use.txid, Root: use.root, Freelist: use.freelist}, nil
}

// meta is a parsed meta page; err says why it is not valid.
type meta struct {
	hasMagic       bool
	pageSize       uint32
	pgid, txid     uint64
	root, freelist uint64
	err            string
}

func (m *meta) valid() bool { return m.hasMagic && m.err == "" }

func (m *meta) problem() string {
	switch {
	case !m.hasMagic:
		return "no bbolt magic"
	case m.err != "":
		return m.err
	}
	return "valid"
}

// parseMeta parses the start of a meta page (b may be short) and checks
// what bbolt's Meta.Validate checks, plus the fields bbolt would follow.
func parseMeta(b []byte) meta {
	var m meta
	le := binary.NativeEndian
	if len(b) < pageHeaderSize+4 {
		return m
	}
	mb := b[pageHeaderSize:]
	m.hasMagic = le.Uint32(mb) == magic
	if !m.hasMagic {
		return m
	}
	if len(b) < metaEnd {
		m.err = "cut short"
		return m
	}
	h := fnv.New64a()
	h.Write(mb[:56])
	ver := le.Uint32(mb[4:])
	m.pageSize, m.pgid, m.txid = le.Uint32(mb[8:]), le.Uint64(mb[40:]), le.Uint64(mb[48:])
	m.root, m.freelist = le.Uint64(mb[16:]), le.Uint64(mb[32:])
	root, freelist := m.root, m.freelist
	switch {
	case le.Uint64(mb[56:]) != h.Sum64():
		m.err = "checksum mismatch"
	case ver != version:
		m.err = fmt.Sprintf("format version %d, not %d", ver, version)
	case m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0:
		m.err = fmt.Sprintf("page size %d", m.pageSize)
	case m.pgid < 3 || root < 2 || root >= m.pgid || freelist != noFreelist && (freelist < 2 || freelist >= m.pgid):
		m.err = fmt.Sprintf("pages root %d, freelist %d beyond high-water mark %d", root, freelist, m.pgid)
	}
	return m
}
