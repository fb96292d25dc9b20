package offline_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// brokenEnv names the store the broken-store child opens; brokenModeEnv
// says how ("ro" or "rw").
const (
	brokenEnv     = "YKTD_OFFLINE_BROKEN_HELPER"
	brokenModeEnv = "YKTD_OFFLINE_BROKEN_MODE"
)

// TestBrokenStoreHelper is the child of the broken-store tests: it opens the
// store named by the environment, reads everything, and prints one line
// "result ok" or "result err corrupt=B: MESSAGE", then exits 0.
// A panic or a fault (SIGBUS) ends it otherwise, which the parent sees.
func TestBrokenStoreHelper(t *testing.T) {
	path := os.Getenv(brokenEnv)
	if path == "" {
		t.Skip("helper process for the broken-store tests")
	}
	err := openAndReadAll(path, os.Getenv(brokenModeEnv) == "ro")
	if err == nil {
		fmt.Println("result ok")
	} else {
		fmt.Printf("result err corrupt=%v: %v\n", errors.Is(err, offline.ErrCorrupt), err)
	}
	os.Exit(0)
}

// openAndReadAll opens the store and calls every read the tools and the
// daemon make, returning the first error.
func openAndReadAll(path string, readOnly bool) error {
	s, err := offline.Open(path, offline.Options{ReadOnly: readOnly, LockTimeout: time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	return readAll(s)
}

func readAll(s *offline.Store) error {
	return errors.Join(readAllButCheck(s), s.CheckConsistency())
}

// readAllButCheck is readAll without bbolt's consistency check, which runs
// on a goroutine of bbolt's own: a page number beyond the file faults there,
// out of the store's reach (the check is a diagnostic for tests).
func readAllButCheck(s *offline.Store) error {
	steps := []func() error{
		func() error { _, err := s.Verify(); return err },
		func() error { _, err := s.VerifyTail(); return err },
		func() error { _, err := s.Head(); return err },
		func() error { _, err := s.Records(0, 1<<20); return err },
		func() error { _, err := s.Unacked(1 << 20); return err },
		func() error { _, err := s.SyncSource().RawRecords(0, 1<<20); return err },
		func() error { _, err := s.SyncCursor(); return err },
		func() error { _, err := s.Intents(); return err },
		func() error { _, err := s.StatusInfo(); return err },
		func() error { _, _, err := s.Lookup("2024000001"); return err },
		func() error { _, _, err := s.Lookup("2024000107"); return err },
		func() error { _, _, err := s.Rules(); return err },
		func() error { _, _, err := s.RulesSigned(); return err },
		func() error { _, _, err := s.RulesVersion(); return err },
		func() error { _, err := s.Nonces(); return err },
		func() error { _, err := s.Capacity(); return err },
	}
	var errs []error
	for _, f := range steps {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// filledStore makes a real store with every bucket used: purchases in all
// states, gate records, a status list, rules and QR nonces, big enough to
// span many pages. It returns its path.
func filledStore(t testing.TB) string {
	t.Helper()
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "yktd.db")
	s, err := offline.Open(path, offline.Options{DeviceID: "broken-0001", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		in, err := s.OpenIntent(purchase(fmt.Sprintf("2024%06d", i%50), int64(100+i)))
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			_, err = s.CompleteIntent(in.ID, done)
		case 1:
			_, err = s.VoidIntent(in.ID, "declined")
		case 2:
			if i%30 == 2 {
				_, err = s.MarkUncertain(in.ID, "torn")
			} else {
				_, err = s.CompleteIntent(in.ID, done)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "2024000001", Credential: "card"}); err != nil {
		t.Fatal(err)
	}
	var entries []offline.StatusEntry
	for i := 0; i < 3000; i++ {
		entries = append(entries, offline.StatusEntry{CardNo: fmt.Sprintf("2024%06d", 100+i), Reason: offline.Reason(1 + i%5), Since: clk.Now()})
	}
	if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: entries}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRules(1, []byte("signed rules"), protocol.Rules{Version: 1, Issued: 1, Prices: map[string]int64{"meal": 1250}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := s.SeenNonce(fmt.Appendf(nil, "nonce-%04d", i), clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.Records(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(es[9].Record.Seq, es[9].Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// boltGeometry reads the page size and the high-water mark (pages in use)
// of the newest valid meta page of a bbolt file (little-endian hosts).
func boltGeometry(t testing.TB, path string) (pageSize, hwm int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var best uint64
	for i, off := 0, int64(0); i < 2; i++ {
		buf := make([]byte, 16+64)
		if _, err := f.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		m := buf[16:]
		ps := int64(binary.LittleEndian.Uint32(m[8:]))
		if txid := binary.LittleEndian.Uint64(m[48:]); txid >= best {
			best, pageSize, hwm = txid, ps, int64(binary.LittleEndian.Uint64(m[40:]))
		}
		off = ps
	}
	return pageSize, hwm
}

// copyTruncated copies the store at src to a new file cut at size bytes.
func copyTruncated(t testing.TB, src string, size int64) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "yktd.db")
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, size); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runBrokenChild opens path in a child process (this test binary again)
// and returns its result line; a child that did not exit 0 with a result
// line (a panic, SIGBUS) fails the test.
func runBrokenChild(t *testing.T, path string, readOnly bool) string {
	t.Helper()
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	cmd := selfCommand("^TestBrokenStoreHelper$")
	cmd.Env = append(os.Environ(), brokenEnv+"="+path, brokenModeEnv+"="+mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	line := ""
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "result ") {
			line = l
		}
	}
	if err != nil || line == "" {
		msg := stderr.String()
		if len(msg) > 600 {
			msg = msg[:600] + "..."
		}
		t.Fatalf("child (%s) crashed: %v\nstdout %q\nstderr %s", mode, err, out, msg)
	}
	return line
}

// TestTruncatedStore cuts a real store at points inside the meta pages and
// inside the data pages and opens each copy, read-write and read-only, in a
// child process: each is refused with ErrCorrupt, none crashes. A file cut
// only in the space bbolt allocated beyond its last page loses nothing and
// opens.
func TestTruncatedStore(t *testing.T) {
	src := filledStore(t)
	ps, hwm := boltGeometry(t, src)
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	end := ps * hwm
	if end < 8*ps || fi.Size() < end {
		t.Fatalf("filled store too small: %d pages of %d, file %d", hwm, ps, fi.Size())
	}
	cuts := []struct {
		name string
		size int64
	}{
		{"inside meta page 0 header", 40},
		{"inside meta page 0 after the meta", 200},
		{"at the end of meta page 0", ps},
		{"inside meta page 1", ps + 100},
		{"after both meta pages", 2 * ps},
		{"inside the data pages", 3*ps + 1000},
		{"half the data pages", end / 2},
		{"last page missing", end - ps},
		{"last page one byte short", end - 1},
	}
	for _, c := range cuts {
		path := copyTruncated(t, src, c.size)
		for _, ro := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/read-only=%v", c.name, ro), func(t *testing.T) {
				line := runBrokenChild(t, path, ro)
				if !strings.HasPrefix(line, "result err corrupt=true") {
					t.Fatalf("cut at %d of %d bytes: %s, want ErrCorrupt", c.size, end, line)
				}
			})
		}
	}
	if fi.Size() > end {
		path := copyTruncated(t, src, end)
		for _, ro := range []bool{true, false} {
			if line := runBrokenChild(t, path, ro); line != "result ok" {
				t.Errorf("cut at the high-water mark %d, read-only=%v: %s, want ok", end, ro, line)
			}
		}
	}
}

// TestMalformedJournalKeys puts keys that are not 8-byte sequences into the
// journal bucket, as a damaged or tampered file could hold, and checks that
// no read panics: each read that meets such a key refuses it with
// ErrCorrupt (or a *ChainError from Verify), and Verify always finds it.
func TestMalformedJournalKeys(t *testing.T) {
	tests := []struct {
		key     []byte
		wantErr []string // the calls that meet the key
	}{
		{[]byte{0x00}, []string{"Verify", "Purge"}},                             // sorts first
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0, 9}, []string{"Verify", "Purge"}},        // sorts before record 1
		{[]byte("abc"), []string{"Verify", "Records", "Unacked", "RawRecords"}}, // sorts last
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%x", tt.key), func(t *testing.T) {
			src := filledStore(t)
			db, err := bolt.Open(src, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("journal")).Put(tt.key, []byte("not a record"))
			}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := offline.Open(src, offline.Options{Retention: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			calls := []struct {
				name string
				call func() error
			}{ // Purge last: it deletes records
				{"Records", func() error { _, err := s.Records(0, 1<<20); return err }},
				{"Unacked", func() error { _, err := s.Unacked(1 << 20); return err }},
				{"RawRecords", func() error { _, err := s.SyncSource().RawRecords(0, 1<<20); return err }},
				{"Verify", func() error { _, err := s.Verify(); return err }},
				{"Purge", func() error { _, err := s.Purge(); return err }},
			}
			for _, c := range calls {
				name, call := c.name, c.call
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Errorf("%s panicked: %v", name, p)
						}
					}()
					err := call()
					switch {
					case err == nil && slices.Contains(tt.wantErr, name):
						t.Errorf("%s = nil, want an error", name)
					case err != nil && !errors.Is(err, offline.ErrCorrupt) && !errors.Is(err, offline.ErrChainBroken):
						t.Errorf("%s = %v, want ErrCorrupt or ErrChainBroken", name, err)
					case err != nil && strings.Count(err.Error(), "offline:") != 1:
						t.Errorf("%s: message repeats its prefix: %v", name, err)
					}
				}()
			}
		})
	}
}

var (
	fuzzBaseOnce sync.Once
	fuzzBase     []byte
)

// smallStore is a filled store small enough to copy for every fuzz input.
func smallStore(t testing.TB) []byte {
	fuzzBaseOnce.Do(func() {
		clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
		dir, err := os.MkdirTemp("", "yktd-fuzz-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "yktd.db")
		s, err := offline.Open(path, offline.Options{DeviceID: "fuzz-0001", Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 6; i++ {
			in, err := s.OpenIntent(purchase(fmt.Sprintf("2024%06d", i), int64(100+i)))
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				_, err = s.CompleteIntent(in.ID, done)
			} else {
				_, err = s.MarkUncertain(in.ID, "torn")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var entries []offline.StatusEntry
		for i := 0; i < 40; i++ {
			entries = append(entries, offline.StatusEntry{CardNo: fmt.Sprintf("2024%06d", 100+i), Reason: offline.ReasonLost, Since: clk.Now()})
		}
		if err := s.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: entries}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRules(1, []byte("signed"), protocol.Rules{Version: 1, Issued: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SeenNonce([]byte("nonce-0001"), clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		es, err := s.Records(0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(2, es[1].Hash); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if fuzzBase, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		// bbolt grows a file in steps of up to 16 MiB; what lies beyond the
		// high-water mark is unused.
		ps, hwm := boltGeometry(t, path)
		fuzzBase = fuzzBase[:ps*hwm]
	})
	if fuzzBase == nil {
		t.Fatal("no base store")
	}
	return fuzzBase
}

// FuzzCorruptStore damages a real store file (patch bytes at an offset,
// then maybe cut it) and opens it read-only and read-write: opening, Verify,
// every read and a write return errors, never panic or fault.
func FuzzCorruptStore(f *testing.F) {
	base := smallStore(f)
	f.Add(uint32(0), []byte{}, uint32(0))
	f.Add(uint32(16), []byte{0}, uint32(0))                  // meta page 0 magic
	f.Add(uint32(2*16384), []byte{0xff, 0xff}, uint32(0))    // page 2 id
	f.Add(uint32(3*16384+8), []byte{0x01, 0x00}, uint32(0))  // page 3 flags
	f.Add(uint32(3*16384+10), []byte{0xff, 0x7f}, uint32(0)) // page 3 count
	f.Add(uint32(4*16384+16), []byte{0xff, 0xff, 0xff, 0x7f}, uint32(0))
	f.Add(uint32(0), []byte{}, uint32(len(base)-100))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, cut uint32) {
		b := bytes.Clone(base)
		if len(patch) > 0 {
			o := int(off) % len(b)
			copy(b[o:], patch)
		}
		if cut > 0 {
			b = b[:int(cut)%len(b)]
		}
		path := filepath.Join(t.TempDir(), "yktd.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{true, false} {
			s, err := offline.Open(path, offline.Options{ReadOnly: ro, LockTimeout: time.Second})
			if err != nil {
				continue
			}
			_ = readAllButCheck(s)
			if !ro {
				_, _ = s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "fuzz"})
				_ = readAllButCheck(s)
			}
			_ = s.Close()
		}
	})
}

// TestDamagedPages overwrites the header of every page of a real store in
// turn (page id, flags, element count, first element's page number) and
// reads everything. bbolt would panic, fault or read beyond the page on
// most of them; Open finds them first (a damaged page is ErrCorrupt) and
// nothing ends the test process.
func TestDamagedPages(t *testing.T) {
	src := filledStore(t)
	base, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	pageSize, hwm := boltGeometry(t, src)
	base = base[:pageSize*hwm]
	const ps = 16384
	patches := []struct {
		name string
		off  int
		b    []byte
	}{
		{"id", 0, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
		{"flags", 8, []byte{0x7f, 0}},
		{"count", 10, []byte{0xff, 0xff}},
		{"overflow", 12, []byte{0xff, 0xff, 0, 0}},
		{"element page", 16 + 8, []byte{0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0}},
		{"element position", 16, []byte{0xff, 0xff, 0, 0}},
	}
	refused := 0
	path := filepath.Join(t.TempDir(), "yktd.db")
	if len(base)/ps > 64 {
		t.Fatalf("base store of %d pages", len(base)/ps)
	}
	for p := 2; p < len(base)/ps; p++ {
		for _, pt := range patches {
			b := bytes.Clone(base)
			copy(b[p*ps+pt.off:], pt.b)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			var err error
			s, oerr := offline.Open(path, offline.Options{ReadOnly: true})
			if oerr == nil {
				err = readAllButCheck(s)
				s.Close()
			} else {
				err = oerr
			}
			if err != nil && !errors.Is(err, offline.ErrCorrupt) && !errors.Is(err, offline.ErrChainBroken) {
				t.Errorf("page %d %s: %v, want ErrCorrupt", p, pt.name, err)
			}
			if oerr != nil && strings.Contains(oerr.Error(), "damaged page") {
				refused++
			}
		}
	}
	if refused < len(base)/ps {
		t.Fatalf("only %d damaged pages refused at Open (of %d pages): the test damages nothing bbolt reads", refused, len(base)/ps)
	}
	t.Logf("%d pages, %d damaged ones refused at Open", len(base)/ps, refused)
}

// TestTruncatedWhileOpen cuts the file of an open store (someone emptying
// it under the daemon): the pages bbolt has mapped are gone and reading
// them faults with SIGBUS, which every read turns into ErrCorrupt.
func TestTruncatedWhileOpen(t *testing.T) {
	path := filledStore(t)
	s, err := offline.Open(path, offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := readAllButCheck(s); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 2*16384); err != nil {
		t.Fatal(err)
	}
	err = readAllButCheck(s)
	if !errors.Is(err, offline.ErrCorrupt) || !strings.Contains(err.Error(), "bbolt: runtime error") {
		t.Fatalf("reads after the cut = %v, want ErrCorrupt from a fault", err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.Count(line, "offline:") != 1 {
			t.Errorf("message repeats its prefix: %s", line)
		}
	}
}
