package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden vectors in testdata/golden")

// golden compares got with testdata/golden/name.hex, or writes it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".hex")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed:\n got  %x\n want %x", name, got, want)
	}
}

// TestGoldenVectors pins the wire encodings byte for byte: a change here
// breaks every ledger. The signed vectors use Ed25519 (deterministic) with
// the seeds 01..01 (device pos-canteen1-07) and 02..02 (ledger-2026).
func TestGoldenVectors(t *testing.T) {
	dev := testSigner(t, testDevice, 1)
	ledger := testSigner(t, ledgerKID, 2)
	b := testBatch(t, 3)
	ack := testAck()
	snap := testSnapshot()
	qr := testSigner(t, "campus-qr-1", 3)
	claims := testClaims()
	tests := []struct {
		name string
		make func() ([]byte, error)
	}{
		{"batch", b.Encode},
		{"ack", ack.Encode},
		{"batch.cose", func() ([]byte, error) { return Seal(dev, &b, testDevice) }},
		{"ack.cose", func() ([]byte, error) { return Seal(ledger, ack, testDevice) }},
		{"status-snapshot.cose", func() ([]byte, error) { return Seal(ledger, &snap, testDevice) }},
		{"error-gap", func() ([]byte, error) { return EncodeError(&Error{Code: CodeGap, Message: "expected 4", Expected: 4}) }},
		{"qr-token.base45", func() ([]byte, error) { s, err := SignQRToken(qr, claims); return []byte(s), err }},
		{"device-ed25519.pub", func() ([]byte, error) { return dev.PublicKey().Key, nil }},
		{"ledger-ed25519.pub", func() ([]byte, error) { return ledger.PublicKey().Key, nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, got)
		})
	}
}

// TestBatchVectorHead: the batch vector's head is the hash of its last
// record, and the records start from the device's genesis.
func TestBatchVectorHead(t *testing.T) {
	b := testBatch(t, 3)
	g := GenesisHash(testDevice)
	h := RecordHash(b.Records[2])
	if !bytes.Equal(b.PrevHead, g[:]) || !bytes.Equal(b.NewHead, h[:]) || b.FirstSeq != 1 || b.LastSeq != 3 {
		t.Fatalf("batch: %+v", b)
	}
}

func TestBatchRefusals(t *testing.T) {
	recs := testRecords(t, testDevice, 4)
	g := GenesisHash(testDevice)
	base := func() Batch {
		b, err := NewBatch(testDevice, 1, g, append([][]byte(nil), recs[:3]...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A record that is valid but links to the wrong hash.
	r3, _ := DecodeRecord(recs[2])
	r3.Prev = make([]byte, HashSize)
	badLink, _ := EncodeRecord(&r3)
	nonCanon := append([]byte{0xb9, 0x00, recs[1][0] & 0x1f}, recs[1][1:]...) // map length in 2 bytes
	tooMany := make([][]byte, MaxBatchRecords+1)
	for i := range tooMany {
		tooMany[i] = recs[0]
	}
	tests := []struct {
		name   string
		mutate func(*Batch)
		want   error
	}{
		{"ok", func(*Batch) {}, nil},
		{"no records", func(b *Batch) { b.Records = nil }, ErrMalformed},
		{"count does not match", func(b *Batch) { b.LastSeq = 4 }, ErrMalformed},
		{"first seq 0", func(b *Batch) { b.FirstSeq, b.LastSeq = 0, 2 }, ErrMalformed},
		{"sequences shifted", func(b *Batch) { b.FirstSeq, b.LastSeq = 2, 4 }, ErrMalformed},
		{"gap inside", func(b *Batch) { b.Records[1] = recs[3] }, ErrMalformed},
		{"prev head wrong", func(b *Batch) { b.PrevHead = make([]byte, HashSize) }, ErrChainBroken},
		{"prev head short", func(b *Batch) { b.PrevHead = b.PrevHead[:31] }, ErrMalformed},
		{"link broken", func(b *Batch) { b.Records[2] = badLink }, ErrChainBroken},
		{"new head wrong", func(b *Batch) { b.NewHead = bytes.Repeat([]byte{1}, HashSize) }, ErrChainBroken},
		{"invalid record", func(b *Batch) { b.Records[1] = []byte{0xa0} }, ErrInvalidRecord},
		{"non-canonical record", func(b *Batch) { b.Records[1] = nonCanon }, ErrNonCanonical},
		{"bad device id", func(b *Batch) { b.DeviceID = "pos 1" }, ErrMalformed},
		{"too many records", func(b *Batch) { b.Records, b.FirstSeq, b.LastSeq = tooMany, 1, MaxBatchRecords+1 }, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			tc.mutate(&b)
			_, err := b.Check()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check: err = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				return
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrChainBroken) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v carries no wire code", err)
			}
			if _, err := b.Encode(); err == nil {
				t.Fatal("Encode accepted the batch")
			}
			// The same batch, encoded anyway, is refused by DecodeBatch.
			raw, err := recordEnc.Marshal(&b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeBatch(raw); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeBatch: err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewBatchFollowsCursor(t *testing.T) {
	recs := testRecords(t, testDevice, 5)
	prev := RecordHash(recs[1])
	b, err := NewBatch(testDevice, 2, prev, recs[2:])
	if err != nil {
		t.Fatal(err)
	}
	if b.FirstSeq != 3 || b.LastSeq != 5 {
		t.Fatalf("sequences %d..%d", b.FirstSeq, b.LastSeq)
	}
	if _, err := NewBatch(testDevice, 2, GenesisHash(testDevice), recs[2:]); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("wrong cursor: err = %v, want ErrChainBroken", err)
	}
}

func TestMessageRefusals(t *testing.T) {
	ack, _ := testAck().Encode()
	tooBigAck := append([]byte{0xa6}, ack[1:]...)
	tooBigAck = append(tooBigAck, 0x18, 0x20, 0x59, 0x01, 0x00) // key 32: 256-byte string
	tooBigAck = append(tooBigAck, make([]byte, 256)...)
	tests := []struct {
		name string
		in   []byte
		dec  func([]byte) error
		want error
	}{
		{"empty", nil, func(b []byte) error { _, err := DecodeAck(b); return err }, ErrMalformed},
		{"oversized ack", tooBigAck, func(b []byte) error { _, err := DecodeAck(b); return err }, ErrTooLarge},
		{"tag", append([]byte{0xc1}, ack...), func(b []byte) error { _, err := DecodeAck(b); return err }, ErrMalformed},
		{"indefinite map", append(append([]byte{0xbf}, ack[1:]...), 0xff), func(b []byte) error { _, err := DecodeAck(b); return err }, ErrMalformed},
		{"invalid utf-8", mustHex("a2016370e9ff0200"), func(b []byte) error { _, err := DecodeStatusRequest(b); return err }, ErrMalformed},
		{"snapshot digest wrong", func() []byte {
			s := testSnapshot()
			s.Digest = make([]byte, 32)
			b, _ := recordEnc.Marshal(&s)
			return b
		}(), func(b []byte) error { _, err := DecodeStatusSnapshot(b); return err }, ErrMalformed},
		{"snapshot unsorted", func() []byte {
			s := testSnapshot()
			s.Entries[0], s.Entries[1] = s.Entries[1], s.Entries[0]
			b, _ := recordEnc.Marshal(&s)
			return b
		}(), func(b []byte) error { _, err := DecodeStatusSnapshot(b); return err }, ErrMalformed},
		{"delta backwards", func() []byte {
			b, _ := recordEnc.Marshal(&StatusDelta{From: 5, To: 5, Digest: make([]byte, 32)})
			return b
		}(), func(b []byte) error { _, err := DecodeStatusDelta(b); return err }, ErrMalformed},
		{"load init short mac1", func() []byte {
			m := testMessages(t)[11].(*LoadInit)
			m.MAC1 = m.MAC1[:3]
			b, _ := recordEnc.Marshal(m)
			return b
		}(), func(b []byte) error { _, err := DecodeLoadInit(b); return err }, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.dec(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestBatchAckEpoch: the epoch is omitted at 0 (every epoch-0 encoding
// stays what it was) and round-trips otherwise, in the batch and the ack.
func TestBatchAckEpoch(t *testing.T) {
	recs := testRecords(t, testDevice, 2)
	b, err := NewBatch(testDevice, 2, GenesisHash(testDevice), recs)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b.Epoch = 3
	withEpoch, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(plain, withEpoch) || len(withEpoch) != len(plain)+2 {
		t.Fatalf("epoch 3 adds %d bytes, want 2 (key 8, value 3)", len(withEpoch)-len(plain))
	}
	got, err := DecodeBatch(withEpoch)
	if err != nil || got.Epoch != 3 {
		t.Fatalf("decoded epoch %d, err %v", got.Epoch, err)
	}
	if got, err := DecodeBatch(plain); err != nil || got.Epoch != 0 {
		t.Fatalf("decoded epoch %d, err %v", got.Epoch, err)
	}
	a := testAck()
	a.Epoch = 3
	raw, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if ga, err := DecodeAck(raw); err != nil || ga.Epoch != 3 {
		t.Fatalf("ack epoch %d, err %v", ga.Epoch, err)
	}
}
