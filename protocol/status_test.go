package protocol

import (
	"encoding/hex"
	"testing"
)

// TestStatusDigestVector pins the digest definition the ledger signs:
// SHA-256("yktd-status-v1") for the empty list, and with one entry
// SHA-256("yktd-status-v1" ‖ uvarint(1) ‖ "7" ‖ 01 ‖ be64(60)).
func TestStatusDigestVector(t *testing.T) {
	tests := []struct {
		name    string
		entries []StatusEntry
		want    string
	}{
		{"empty", nil, "0c847e37be7b391fa3056829b0e9b313a60f9980db72bb7c6ea50b54b26bde5c"},
		{"one", []StatusEntry{{CardNo: "7", Reason: 1, Since: 60}}, "e3c336972bb4cd5ce97ee1996a137a1719910301166758bf739f92afe923c514"},
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
}
