package offline

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/openykt/yktd/protocol"
)

func TestStatusCardEncoding(t *testing.T) {
	tests := []struct {
		card, hex string
	}{
		{"2024000123", "8a" + "2024000123"},
		{"123", "83" + "123f"},
		{"7", "81" + "7f"},
		{"X-77", "04" + "582d3737"},
		{"12a", "03" + "313261"},
	}
	for _, tt := range tests {
		t.Run(tt.card, func(t *testing.T) {
			got := appendCard(nil, []byte(tt.card))
			if hex.EncodeToString(got) != tt.hex {
				t.Fatalf("appendCard = %x, want %s", got, tt.hex)
			}
			size, n := cardField(got)
			back, ok := decodeCard(nil, got[:size], n)
			if size != len(got) || !ok || string(back) != tt.card {
				t.Fatalf("decode = %q %v (size %d)", back, ok, size)
			}
		})
	}
}

func partitionOf(items ...statusItem) []byte {
	var pd protocol.StatusPartitionDigester
	return encodePartition(nil, items, &pd)
}

func TestStatusPartitionCodec(t *testing.T) {
	items := []statusItem{
		{card: []byte("2024000006"), reason: ReasonLost, since: 1700000000, version: 3},
		{card: []byte("2024000029"), reason: ReasonCancelled, since: 1700000000, version: 300},
	}
	v := partitionOf(items...)
	var pd protocol.StatusPartitionDigester
	pd.Add(items[0].card, 1, 1700000000)
	pd.Add(items[1].card, 4, 1700000000)
	if d := pd.Sum(); !bytes.Equal(v[:32], d[:]) {
		t.Fatal("stored digest is not P(i)")
	}
	const wantEntries = "8a2024000006" + "01" + "80e2cfaa06" + "03" + "8a2024000029" + "04" + "80e2cfaa06" + "ac02"
	if got := hex.EncodeToString(v[32:]); got != wantEntries {
		t.Fatalf("entries = %s, want %s", got, wantEntries)
	}
	_, got, _, err := decodePartition(v, nil, nil)
	if err != nil || len(got) != 2 || string(got[1].card) != "2024000029" || got[1].version != 300 || got[0].reason != ReasonLost {
		t.Fatalf("decodePartition = %+v, %v", got, err)
	}
	r, since, ver, found, err := findInPartition(v, appendCard(nil, []byte("2024000029")))
	if err != nil || !found || r != ReasonCancelled || since != 1700000000 || ver != 300 {
		t.Fatalf("findInPartition = %v %d %d %v %v", r, since, ver, found, err)
	}
	if _, _, _, found, _ := findInPartition(v, appendCard(nil, []byte("2024000007"))); found {
		t.Fatal("found an unlisted card")
	}

	digest := hex.EncodeToString(v[:32])
	bad := []struct{ name, hex string }{
		{"no entry", digest},
		{"short", "00"},
		{"unsorted", digest + wantEntries[26:] + wantEntries[:26]},
		{"duplicate", digest + wantEntries[:26] + wantEntries[:26]},
		{"digits not packed", digest + "0a" + hex.EncodeToString([]byte("2024000006")) + "01" + "00" + "01"},
		{"bad pad", digest + "83" + "1230" + "01" + "00" + "01"},
		{"bad digit", digest + "82" + "1a" + "01" + "00" + "01"},
		{"zero length card", digest + "80" + "01" + "00" + "01"},
		{"reason 0", digest + "817f" + "00" + "00" + "01"},
		{"non-minimal varint", digest + "817f" + "01" + "8000" + "01"},
		{"truncated", digest + "817f" + "01" + "00"},
		{"control char", digest + "02" + "4109" + "01" + "00" + "01"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tt.hex)
			if _, _, _, err := decodePartition(b, nil, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodePartition = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzStatusPartition(f *testing.F) {
	f.Add(partitionOf(statusItem{card: []byte("2024000006"), reason: ReasonLost, since: 1700000000, version: 3},
		statusItem{card: []byte("X-77"), reason: ReasonExpired, version: 1}))
	f.Add(partitionOf(statusItem{card: []byte("7"), reason: ReasonLost, since: 60, version: 1}))
	f.Fuzz(func(t *testing.T, v []byte) {
		d, items, _, err := decodePartition(v, nil, nil)
		if err != nil {
			return
		}
		// One partition, one encoding: what decodes re-encodes to the same
		// entries (the stored digest is not checked here, the delta does).
		var pd protocol.StatusPartitionDigester
		enc := encodePartition(nil, items, &pd)
		if !bytes.Equal(enc[32:], v[32:]) {
			t.Fatalf("accepted %x, re-encodes to %x", v, enc)
		}
		_ = d
		for _, it := range items {
			if _, _, _, found, err := findInPartition(v, appendCard(nil, it.card)); err != nil || !found {
				t.Fatalf("lookup of decoded card %q: %v %v", it.card, found, err)
			}
		}
	})
}
