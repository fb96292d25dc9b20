package protocol

import (
	"encoding/hex"
	"testing"
)

// TestStatusDigestVector pins the digest definition the ledger signs. The
// vectors were computed by an independent implementation of the
// definition on StatusDigest (Python hashlib), not by this code.
func TestStatusDigestVector(t *testing.T) {
	tests := []struct {
		name    string
		entries []StatusEntry
		want    string
	}{
		// SHA-256("yktd-status-v2")
		{"empty", nil, "045c3dd7157950d44b161b3bbce1d18737bafcbc978fed475be589432ce6bb6b"},
		// partition("7") = 30978; SHA-256("yktd-status-v2" ‖ 7902 ‖ SHA-256(01 37 01 000000000000003c))
		{"one", []StatusEntry{{CardNo: "7", Reason: 1, Since: 60}}, "ee07f5fdace196dc843ebefd5e7186184ff6d37b6b6dddd4b600d90c221a6b64"},
		// four partitions (10665, 49555, 32563, 3751), a negative since
		{"four partitions", []StatusEntry{
			{"2024000001", 1, 1709251200}, {"2024000002", 2, 1709254800}, {"2024000003", 3, -1}, {"X-77", 5, 0},
		}, "ddaf457ae26d7fb2f1aab3351d0ce509f488292c78388efb6f68fea7857166dd"},
		// 2024000006 and 2024000029 share partition 50094
		{"shared partition", []StatusEntry{
			{"2024000029", 4, 1700000000}, {"2024000006", 1, 1700000000}, {"7", 1, 60},
		}, "4e0f66f4b90abae1f03aa82800c63f678fbc6eeb1a00184003340ac66f842b2b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := StatusDigest(tt.entries)
			if got := hex.EncodeToString(d[:]); got != tt.want {
				t.Fatalf("StatusDigest = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStatusPartition(t *testing.T) {
	tests := []struct {
		card string
		want uint16
	}{{"7", 30978}, {"2024000001", 10665}, {"2024000006", 50094}, {"2024000029", 50094}}
	for _, tt := range tests {
		if got := StatusPartition([]byte(tt.card)); got != tt.want {
			t.Errorf("StatusPartition(%q) = %d, want %d", tt.card, got, tt.want)
		}
	}
}

func TestStatusDigestIsOrderIndependent(t *testing.T) {
	a := []StatusEntry{{"2024000001", 1, 100}, {"2024000002", 2, 200}, {"2024000003", 3, 300}}
	b := []StatusEntry{a[2], a[0], a[1]}
	if StatusDigest(a) != StatusDigest(b) {
		t.Fatal("digest depends on input order")
	}
	c := []StatusEntry{a[0], a[1], {"2024000003", 3, 301}}
	if StatusDigest(a) == StatusDigest(c) {
		t.Fatal("digest ignores since")
	}
	if StatusDigest(a[:2]) == StatusDigest(a) {
		t.Fatal("digest ignores an entry")
	}
}

// TestStatusDigestIncremental recomputes one partition the way a terminal
// does after a delta and checks it against a full recomputation.
func TestStatusDigestIncremental(t *testing.T) {
	var pd StatusPartitionDigester
	pd.Add([]byte("2024000006"), 1, 1700000000)
	pd.Add([]byte("2024000029"), 4, 1700000000)
	if pd.Len() != 2 {
		t.Fatalf("Len = %d", pd.Len())
	}
	shared := pd.Sum()
	pd.Add([]byte("7"), 1, 60)
	seven := pd.Sum()
	l := NewStatusListDigester()
	l.Add(30978, seven)
	l.Add(50094, shared)
	want := StatusDigest([]StatusEntry{{"2024000029", 4, 1700000000}, {"2024000006", 1, 1700000000}, {"7", 1, 60}})
	if got := l.Sum(); got != want {
		t.Fatalf("incremental %x, full %x", got, want)
	}
}
