package offline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/openykt/yktd/protocol"
)

// The decoders of the store's own values, fuzzed with what a damaged or
// tampered file could hold. Each either refuses with ErrCorrupt or accepts
// a value that re-encodes to the same bytes; none panics. (Status values
// and partitions, rules values and nonce entries have their own targets.)

func sampleHead() head {
	return head{seq: 42, hash: [32]byte{1, 2, 3}, time: 1725177600000, mono: 123456789, boot: 0xfeed1}
}

func sampleIntentValue(t testing.TB) (k, v []byte) {
	r := (&PurchaseIntent{
		CardNo: "2024000001", Amount: 1250, BalanceBefore: 5000, CardCounter: 7,
		TerminalID: []byte{0, 0, 0x12, 0x34, 0x56, 0x78}, TerminalSeq: 99,
		TxTime: []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0, 0}, CardSerial: make([]byte, 8),
		KeyIndex: 1, KeyVersion: 1, MAC1: []byte{1, 2, 3, 4},
	}).record(protocol.KindPurchaseIntent)
	r.Seq, r.Time, r.Prev = 5, 1725177600000, make([]byte, 32)
	raw, err := protocol.EncodeRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	return be64(5), append([]byte{byte(IntentUncertain)}, raw...)
}

func TestDecodeStoreValues(t *testing.T) {
	h := sampleHead()
	if got, err := decodeHead(h.encode()); err != nil || got != h {
		t.Fatalf("decodeHead = %+v, %v", got, err)
	}
	c := Cursor{Seq: 9, Hash: [32]byte{9}}
	if got, err := decodeCursor(encodeCursor(c)); err != nil || got != c {
		t.Fatalf("decodeCursor = %+v, %v", got, err)
	}
	k, v := sampleIntentValue(t)
	if in, err := decodeIntent(k, v); err != nil || in.ID != 5 || in.State != IntentUncertain || !in.Recoverable() {
		t.Fatalf("decodeIntent = %+v, %v", in, err)
	}
	zeroSeqHead := h.encode()
	clear(zeroSeqHead[:8])
	bad := []struct {
		name string
		err  error
	}{
		{"head short", func() error { _, err := decodeHead(zeroSeqHead[:63]); return err }()},
		{"head long", func() error { _, err := decodeHead(append(h.encode(), 0)); return err }()},
		{"head sequence 0", func() error { _, err := decodeHead(zeroSeqHead); return err }()},
		{"cursor short", func() error { _, err := decodeCursor(encodeCursor(c)[:39]); return err }()},
		{"cursor sequence 0", func() error { _, err := decodeCursor(encodeCursor(Cursor{})); return err }()},
		{"be64 short", func() error { _, err := decodeUint64([]byte{1}); return err }()},
		{"latest time short", func() error { _, err := decodeLatest([]byte{1}); return err }()},
		{"latest time negative", func() error { _, err := decodeLatest(be64(1 << 63)); return err }()},
		{"journal key short", func() error { _, err := journalSeq([]byte{1}); return err }()},
		{"journal key long", func() error { _, err := journalSeq(make([]byte, 9)); return err }()},
		{"intent empty", func() error { _, err := decodeIntent(k, nil); return err }()},
		{"intent bad state", func() error { _, err := decodeIntent(k, append([]byte{3}, v[1:]...)); return err }()},
		{"intent under another key", func() error { _, err := decodeIntent(be64(6), v); return err }()},
		{"intent short key", func() error { _, err := decodeIntent([]byte{5}, v); return err }()},
		{"intent record cut", func() error { _, err := decodeIntent(k, v[:len(v)-1]); return err }()},
		{"status info short", func() error { _, err := decodeStatusInfo(be64(1), make([]byte, 31), make([]byte, 48)); return err }()},
		{"status info count 0 used", func() error {
			c := make([]byte, 48)
			c[7] = 1
			_, err := decodeStatusInfo(be64(1), make([]byte, 32), c)
			return err
		}()},
	}
	for _, b := range bad {
		if !errors.Is(b.err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", b.name, b.err)
		}
	}
}

// FuzzMetaValue decodes one hostile value as each fixed-layout value of the
// meta and sync buckets: head, cursor and anchor, be64 (schema, epoch,
// counts) and a journal key.
func FuzzMetaValue(f *testing.F) {
	h := sampleHead()
	f.Add(h.encode())
	f.Add(encodeCursor(Cursor{Seq: 9, Hash: [32]byte{9}}))
	f.Add(be64(5))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := decodeHead(b); err == nil {
			if !bytes.Equal(h.encode(), b) || h.seq == 0 {
				t.Fatalf("head %x accepted as %+v", b, h)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("head: %v", err)
		}
		if c, err := decodeCursor(b); err == nil {
			if !bytes.Equal(encodeCursor(c), b) || c.Seq == 0 {
				t.Fatalf("cursor %x accepted as %+v", b, c)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cursor: %v", err)
		}
		if n, err := decodeUint64(b); err == nil && !bytes.Equal(be64(n), b) {
			t.Fatalf("be64 %x accepted as %d", b, n)
		}
		if n, err := journalSeq(b); err == nil && !bytes.Equal(be64(n), b) {
			t.Fatalf("journal key %x accepted as %d", b, n)
		}
	})
}

// FuzzIntentValue decodes hostile intents-bucket entries.
func FuzzIntentValue(f *testing.F) {
	k, v := sampleIntentValue(f)
	f.Add(k, v)
	f.Add(k, append([]byte{byte(IntentOpen)}, v[1:]...))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		in, err := decodeIntent(k, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeIntent: %v", err)
			}
			return
		}
		if len(k) != 8 || binary.BigEndian.Uint64(k) != in.ID || (in.State != IntentOpen && in.State != IntentUncertain) {
			t.Fatalf("accepted %x → %x as %+v", k, v, in)
		}
	})
}

// FuzzStatusInfo decodes hostile status-list metadata.
func FuzzStatusInfo(f *testing.F) {
	f.Add(be64(3), make([]byte, 32), make([]byte, 48))
	f.Fuzz(func(t *testing.T, v, d, c []byte) {
		si, err := decodeStatusInfo(v, d, c)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeStatusInfo: %v", err)
			}
			return
		}
		var counts [numReasons]uint64
		var sum uint64
		for r, n := range si.ByReason {
			counts[r] = n
			sum += n
		}
		if !bytes.Equal(be64(si.Version), v) || !bytes.Equal(si.Digest[:], d) || sum != si.Count {
			t.Fatalf("accepted %x %x %x as %+v", v, d, c, si)
		}
		for i := range numReasons {
			if binary.BigEndian.Uint64(c[8*i:]) != counts[i] {
				t.Fatalf("count %d: stored %x, decoded %d", i, c[8*i:8*i+8], counts[i])
			}
		}
	})
}
