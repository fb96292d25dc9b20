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
