package boltfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// realFile makes a bbolt file with pageSize pages and a few commits (so
// that both meta pages were written) and returns its bytes.
func realFile(t testing.TB, pageSize int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for j := 0; j < 200; j++ {
				if err := b.Put(fmt.Appendf(nil, "key-%d-%d", i, j), bytes.Repeat([]byte{byte(j)}, 100)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func check(b []byte) (Meta, error) {
	return Check(bytes.NewReader(b), func() (int64, error) { return int64(len(b)), nil })
}

// metaAt returns the meta fields of the page at off.
func metaAt(b []byte, off int) []byte { return b[off+pageHeaderSize : off+metaEnd] }

// setMeta rewrites a meta page's high-water mark and txid and, if reseal,
// its checksum.
func setMeta(b []byte, off int, pgid, txid uint64, reseal bool) {
	m := metaAt(b, off)
	binary.NativeEndian.PutUint64(m[40:], pgid)
	binary.NativeEndian.PutUint64(m[48:], txid)
	if reseal {
		h := fnv.New64a()
		h.Write(m[:56])
		binary.NativeEndian.PutUint64(m[56:], h.Sum64())
	}
}

func fields(b []byte, off int) (pgid, txid uint64) {
	m := metaAt(b, off)
	return binary.NativeEndian.Uint64(m[40:]), binary.NativeEndian.Uint64(m[48:])
}

func TestCheck(t *testing.T) {
	for _, ps := range []int{4096, 16384} {
		t.Run(fmt.Sprint(ps), func(t *testing.T) {
			good := realFile(t, ps)
			p0, t0 := fields(good, 0)
			p1, t1 := fields(good, ps)
			newest, newPgid := 0, p0
			if t1 > t0 {
				newest, newPgid = ps, p1
			}
			older := ps - newest
			m, err := check(good)
			if err != nil || m.PageSize != int64(ps) || m.HighWater != newPgid || m.HighWater*uint64(ps) > uint64(len(good)) {
				t.Fatalf("good file: %+v, %v (pgids %d/%d, txids %d/%d, %d bytes)", m, err, p0, p1, t0, t1, len(good))
			}
			mod := func(f func(b []byte)) []byte {
				b := bytes.Clone(good)
				f(b)
				return b
			}
			end := int(newPgid) * ps
			tests := []struct {
				name string
				b    []byte
				want error // nil: opens
			}{
				{"empty", nil, ErrEmpty},
				{"garbage", bytes.Repeat([]byte("not bbolt "), 10000), ErrNotBolt},
				{"text", []byte("hello\n"), ErrNotBolt},
				{"cut inside meta page 0", good[:40], ErrBadMeta},
				{"cut after meta page 0", good[:200], ErrTruncated},
				{"cut inside meta page 1", good[:ps+100], ErrTruncated},
				{"cut after the meta pages", good[:2*ps], ErrTruncated},
				{"last page short", good[:end-1], ErrTruncated},
				{"newest meta damaged: the older is used", mod(func(b []byte) { metaAt(b, newest)[0] ^= 1 }), nil},
				{"older meta damaged", mod(func(b []byte) { metaAt(b, older)[20] ^= 1 }), nil},
				{"meta page 0 damaged: page size found from meta page 1", mod(func(b []byte) { metaAt(b, 0)[8] ^= 0xff }), nil},
				{"both checksums wrong", mod(func(b []byte) { metaAt(b, 0)[20] ^= 1; metaAt(b, ps)[20] ^= 1 }), ErrBadMeta},
				{"newest names pages beyond the file, the older would fit", mod(func(b []byte) {
					setMeta(b, newest, uint64(len(good)/ps)+1, max(t0, t1), true)
				}), ErrTruncated},
				{"older names pages beyond the file: not used", mod(func(b []byte) {
					setMeta(b, older, uint64(len(good)/ps)+1, min(t0, t1), true)
				}), nil},
				{"sealed meta with the root beyond the high-water mark", mod(func(b []byte) {
					setMeta(b, 0, 3, t0, true)
					setMeta(b, ps, 3, t1, true)
				}), ErrBadMeta},
				{"high-water mark overflows", mod(func(b []byte) {
					setMeta(b, newest, 1<<62, max(t0, t1), true)
				}), ErrTruncated},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					m, err := check(tt.b)
					switch {
					case tt.want == nil && err != nil:
						t.Fatalf("Check = %v, want ok", err)
					case tt.want == nil && m.HighWater*uint64(m.PageSize) > uint64(len(tt.b)):
						t.Fatalf("Check = %+v for %d bytes", m, len(tt.b))
					case tt.want != nil && !errors.Is(err, tt.want):
						t.Fatalf("Check = %+v, %v, want %v", m, err, tt.want)
					}
				})
			}
		})
	}
}

// FuzzCheck: Check never panics, and what it accepts is as long as the
// pages it names.
func FuzzCheck(f *testing.F) {
	good := realFile(f, 4096)
	f.Add(good[:3*4096], int64(0))
	f.Add(good[:200], int64(0))
	f.Add([]byte{}, int64(5))
	f.Fuzz(func(t *testing.T, b []byte, extra int64) {
		// extra pretends the file is longer than b (reads past b get EOF).
		size := int64(len(b))
		if extra > 0 && extra < 1<<40 {
			size += extra
		}
		m, err := Check(bytes.NewReader(b), func() (int64, error) { return size, nil })
		if err == nil && (m.PageSize <= 0 || m.HighWater*uint64(m.PageSize) > uint64(size)) {
			t.Fatalf("accepted %+v for a file of %d bytes", m, size)
		}
	})
}

func walkFile(b []byte) error {
	m, err := check(b)
	if err != nil {
		return err
	}
	return Walk(bytes.NewReader(b), m)
}

// pagesOf returns the pages in use of b whose flags are flag.
func pagesOf(t *testing.T, b []byte, ps int, flag uint16) []int {
	m, err := check(b)
	if err != nil {
		t.Fatal(err)
	}
	w, err := walk(bytes.NewReader(b), m)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for p := 2; (p+1)*ps <= len(b); p++ {
		if w.inUse(uint64(p)) && binary.NativeEndian.Uint16(b[p*ps+8:]) == flag {
			out = append(out, p)
		}
	}
	return out
}

func TestWalk(t *testing.T) {
	const ps = 4096
	good := realFile(t, ps)
	if err := walkFile(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
	leaves, branches := pagesOf(t, good, ps, flagLeaf), pagesOf(t, good, ps, flagBranch)
	if len(leaves) < 2 || len(branches) < 1 {
		t.Fatalf("file has %d leaves, %d branches", len(leaves), len(branches))
	}
	m, _ := check(good)
	leaf, branch := leaves[len(leaves)-1], branches[0]
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	put32 := func(b []byte, off int, v uint32) { binary.NativeEndian.PutUint32(b[off:], v) }
	put64 := func(b []byte, off int, v uint64) { binary.NativeEndian.PutUint64(b[off:], v) }
	tests := map[string][]byte{
		"leaf element key outside the page":   mod(func(b []byte) { put32(b, leaf*ps+16+4, 1<<30) }),
		"leaf element value outside the page": mod(func(b []byte) { put32(b, leaf*ps+16+12, 1<<20) }),
		"leaf count beyond the page":          mod(func(b []byte) { binary.NativeEndian.PutUint16(b[leaf*ps+10:], 0xffff) }),
		"branch child beyond the file":        mod(func(b []byte) { put64(b, branch*ps+16+8, m.HighWater+5) }),
		"branch child is a meta page":         mod(func(b []byte) { put64(b, branch*ps+16+8, 1) }),
		"branch child referenced twice": mod(func(b []byte) {
			put64(b, branch*ps+16+8, binary.NativeEndian.Uint64(b[branch*ps+16+16+8:]))
		}),
		"branch without elements":       mod(func(b []byte) { binary.NativeEndian.PutUint16(b[branch*ps+10:], 0) }),
		"page says it is another page":  mod(func(b []byte) { put64(b, leaf*ps, uint64(leaf+1)) }),
		"page of an unknown kind":       mod(func(b []byte) { binary.NativeEndian.PutUint16(b[leaf*ps+8:], 0x20) }),
		"page overflow past the last":   mod(func(b []byte) { put32(b, leaf*ps+12, uint32(m.HighWater)) }),
		"freelist names a page in use":  mod(func(b []byte) { freelistPut(b, m, ps, uint64(leaf)) }),
		"freelist names a page too far": mod(func(b []byte) { freelistPut(b, m, ps, m.HighWater) }),
		"freelist count beyond its page": mod(func(b []byte) {
			binary.NativeEndian.PutUint16(b[int(m.Freelist)*ps+10:], 0xffff)
			put64(b, int(m.Freelist)*ps+16, 1<<40)
		}),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if err := walkFile(b); !errors.Is(err, ErrBadPage) {
				t.Fatalf("Walk = %v, want ErrBadPage", err)
			}
		})
	}
}

// freelistPut makes the freelist of b hold one page number, id.
func freelistPut(b []byte, m Meta, ps int, id uint64) {
	off := int(m.Freelist) * ps
	binary.NativeEndian.PutUint16(b[off+10:], 1)
	binary.NativeEndian.PutUint64(b[off+16:], id)
}

// FuzzWalk damages a real file and walks it: Walk never panics.
func FuzzWalk(f *testing.F) {
	good := realFile(f, 4096)
	f.Add(uint32(3*4096+10), []byte{0xff, 0xff})
	f.Add(uint32(4*4096+20), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		b := bytes.Clone(good)
		copy(b[int(off)%len(b):], patch)
		_ = walkFile(b)
	})
}
