package boltfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrBadPage: a page reachable from the meta page breaks bbolt's layout.
	ErrBadPage = errors.New("damaged page")
	// ErrLocked: another process holds the file's lock exclusively.
	ErrLocked = errors.New("locked by another process")
)

// Page layout (bbolt internal/common/page.go).
const (
	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagFreelist = 0x10
	flagBucket   = 0x01 // leaf element: the value is a bucket
	elemSize     = 16   // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeader = 16   // root pgid u64, sequence u64; an inline page follows when root is 0
	maxInline    = 64   // nesting of inline buckets bbolt could follow
)

// Walk reads, with plain reads, every page reachable from m (the root
// bucket's tree, every bucket below it, inline buckets, the freelist) and
// checks what bbolt takes on trust when it follows them: each page number
// lies inside the file and is referenced once, each page says it is that
// page and of the kind expected, its overflow stays inside the file, and
// every element's key and value lie inside its page. bbolt computes
// pointers from these numbers, so a damaged one makes it read beyond the
// page, into other memory of the process. A file that passes can be read
// by bbolt without that. It costs one read of every page in use.
func Walk(r io.ReaderAt, m Meta) error {
	_, err := walk(r, m)
	return err
}

func walk(r io.ReaderAt, m Meta) (*walker, error) {
	w := &walker{r: r, m: m, seen: make([]uint64, (m.HighWater+63)/64)}
	w.mark(0)
	w.mark(1)
	if m.Freelist != noFreelist {
		if err := w.freelist(); err != nil {
			return nil, err
		}
	}
	stack := []uint64{m.Root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, err := w.page(id, flagBranch|flagLeaf)
		if err != nil {
			return nil, err
		}
		if stack, err = w.elements(p, id, stack, 0); err != nil {
			return nil, err
		}
	}
	for _, id := range w.free {
		if w.inUse(id) {
			return nil, fmt.Errorf("%w: page %d is both in use and on the freelist", ErrBadPage, id)
		}
	}
	return w, nil
}

type walker struct {
	r    io.ReaderAt
	m    Meta
	seen []uint64 // bitset of pages referenced
	free []uint64 // pages on the freelist
	buf  []byte   // the page being checked; reused
}

// inUse reports whether the walk met page id.
func (w *walker) inUse(id uint64) bool { return w.seen[id/64]&(1<<(id%64)) != 0 }

func (w *walker) mark(id uint64) bool {
	bit := uint64(1) << (id % 64)
	dup := w.seen[id/64]&bit != 0
	w.seen[id/64] |= bit
	return dup
}

// page reads page id (with its overflow) after checking it is in the file,
// not referenced before and of one of the kinds in flags.
func (w *walker) page(id uint64, flags uint16) ([]byte, error) {
	if id < 2 || id >= w.m.HighWater {
		return nil, fmt.Errorf("%w: page number %d outside 2..%d", ErrBadPage, id, w.m.HighWater-1)
	}
	ps := uint64(w.m.PageSize)
	if uint64(cap(w.buf)) < ps {
		w.buf = make([]byte, ps)
	}
	p := w.buf[:ps]
	if _, err := w.r.ReadAt(p, int64(id)*w.m.PageSize); err != nil {
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	le := binary.NativeEndian
	got, fl, ov := le.Uint64(p), le.Uint16(p[8:]), uint64(le.Uint32(p[12:]))
	switch {
	case got != id:
		return nil, fmt.Errorf("%w: page %d says it is page %d", ErrBadPage, id, got)
	case fl&flags == 0 || fl&^(flagBranch|flagLeaf|flagFreelist|0x04) != 0 || fl&(fl-1) != 0:
		return nil, fmt.Errorf("%w: page %d has flags %#x, want %#x", ErrBadPage, id, fl, flags)
	case ov >= w.m.HighWater-id:
		return nil, fmt.Errorf("%w: page %d overflows %d pages past the last", ErrBadPage, id, ov)
	}
	for i := uint64(0); i <= ov; i++ {
		if w.mark(id + i) {
			return nil, fmt.Errorf("%w: page %d is referenced twice", ErrBadPage, id+i)
		}
	}
	if ov > 0 { // read it whole: the page with its overflow
		n := (ov + 1) * ps
		if uint64(cap(w.buf)) < n {
			w.buf = make([]byte, n)
		}
		p = w.buf[:n]
		if _, err := w.r.ReadAt(p, int64(id)*w.m.PageSize); err != nil {
			return nil, fmt.Errorf("read page %d: %w", id, err)
		}
	}
	return p, nil
}

// elements checks the elements of the branch or leaf page p (a page of the
// file, or an inline bucket's page inside a value when id is 0) and pushes
// the pages it references onto stack.
func (w *walker) elements(p []byte, id uint64, stack []uint64, depth int) ([]uint64, error) {
	le := binary.NativeEndian
	where := func() string {
		if id == 0 {
			return "inline bucket"
		}
		return fmt.Sprintf("page %d", id)
	}
	if len(p) < pageHeaderSize {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrBadPage, where(), len(p))
	}
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	switch {
	case flags != flagBranch && flags != flagLeaf:
		return nil, fmt.Errorf("%w: %s has flags %#x", ErrBadPage, where(), flags)
	case flags == flagBranch && count == 0:
		return nil, fmt.Errorf("%w: %s is a branch without elements", ErrBadPage, where())
	case pageHeaderSize+count*elemSize > len(p):
		return nil, fmt.Errorf("%w: %s: %d elements do not fit", ErrBadPage, where(), count)
	}
	for i := 0; i < count; i++ {
		off := pageHeaderSize + i*elemSize
		e := p[off : off+elemSize]
		var pos, ksize, vsize uint64
		if flags == flagBranch {
			pos, ksize = uint64(le.Uint32(e)), uint64(le.Uint32(e[4:]))
		} else {
			pos, ksize, vsize = uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		}
		if uint64(off)+pos+ksize+vsize > uint64(len(p)) {
			return nil, fmt.Errorf("%w: %s: element %d lies outside the page", ErrBadPage, where(), i)
		}
		if flags == flagBranch {
			stack = append(stack, le.Uint64(e[8:]))
			continue
		}
		if le.Uint32(e)&flagBucket == 0 {
			continue
		}
		start := uint64(off) + pos + ksize
		v := p[start : start+vsize]
		if len(v) < bucketHeader {
			return nil, fmt.Errorf("%w: %s: bucket %d of %d bytes", ErrBadPage, where(), i, len(v))
		}
		root := le.Uint64(v)
		if root != 0 {
			stack = append(stack, root)
			continue
		}
		if depth >= maxInline {
			return nil, fmt.Errorf("%w: %s: inline buckets nested too deep", ErrBadPage, where())
		}
		inline := v[bucketHeader:]
		if len(inline) >= pageHeaderSize && le.Uint16(inline[8:]) != flagLeaf {
			return nil, fmt.Errorf("%w: %s: inline bucket %d is not a leaf", ErrBadPage, where(), i)
		}
		var err error
		if stack, err = w.elements(inline, 0, stack, depth+1); err != nil {
			return nil, err
		}
	}
	return stack, nil
}

// freelist checks the freelist page and keeps its page numbers, which must
// lie in the file and not be in use.
func (w *walker) freelist() error {
	id := w.m.Freelist
	p, err := w.page(id, flagFreelist)
	if err != nil {
		return err
	}
	le := binary.NativeEndian
	idx, count := uint64(0), uint64(le.Uint16(p[10:]))
	if count == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("%w: freelist page %d too short", ErrBadPage, id)
		}
		idx, count = 1, le.Uint64(p[pageHeaderSize:])
	}
	if count > uint64(len(p)-pageHeaderSize)/8-idx {
		return fmt.Errorf("%w: freelist page %d: %d page numbers do not fit", ErrBadPage, id, count)
	}
	for i := uint64(0); i < count; i++ {
		f := le.Uint64(p[pageHeaderSize+8*(idx+i):])
		if f < 2 || f >= w.m.HighWater {
			return fmt.Errorf("%w: freelist page %d names page %d outside 2..%d", ErrBadPage, id, f, w.m.HighWater-1)
		}
		w.free = append(w.free, f)
	}
	return nil
}
