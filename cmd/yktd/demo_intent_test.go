package main

import (
	"path/filepath"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader/epurse"
)

// testPending has every field set, each to a value no other field has.
func testPending() epurse.Pending {
	return epurse.Pending{
		CardSerial: [8]byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17}, TermID: [6]byte{0x20, 0x21, 0x22, 0x23, 0x24, 0x25},
		TermSeq: 0xFEDCBA98, Amount: 0xFFFFFFF0, Time: epurse.DateTime{0x20, 0x25, 0x03, 0x14, 0x11, 0x45, 0x30},
		KeyIndex: 3, KeyVersion: 4, Algorithm: epurse.AlgSM4, BalanceBefore: 0xFFFFFFFF, OfflineCounter: 0xFFFE,
		MAC1: [4]byte{0x30, 0x31, 0x32, 0x33},
	}
}

// TestPendingIntentRoundTrip: what the terminal makes durable before DEBIT
// comes back, through the store, as exactly the Pending recovery needs.
func TestPendingIntentRoundTrip(t *testing.T) {
	s, err := offline.Open(filepath.Join(t.TempDir(), "y.db"), offline.Options{DeviceID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := testPending()
	in, err := s.OpenIntent(intentOf("00002024090100000042", want))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := s.Intents()
	if err != nil || len(ins) != 1 || ins[0].ID != in.ID || ins[0].CardNo != "00002024090100000042" {
		t.Fatalf("Intents = %+v, %v", ins, err)
	}
	got, err := pendingOf(ins[0])
	if err != nil || got != want {
		t.Fatalf("pendingOf = %+v, %v\nwant %+v", got, err, want)
	}
}

// TestPendingOfRefusesOutOfRange: a stored value that does not fit the
// card's fields is an error, never silently truncated into another amount.
func TestPendingOfRefusesOutOfRange(t *testing.T) {
	base := offline.Intent{ID: 1, PurchaseIntent: intentOf("c", testPending())}
	for name, mod := range map[string]func(*offline.Intent){
		"amount above 32 bits":  func(in *offline.Intent) { in.Amount = 1<<32 + 5 },
		"zero amount":           func(in *offline.Intent) { in.Amount = 0 },
		"balance above 32 bits": func(in *offline.Intent) { in.BalanceBefore = 1 << 32 },
		"negative balance":      func(in *offline.Intent) { in.BalanceBefore = -1 },
		"counter above 16 bits": func(in *offline.Intent) { in.CardCounter = 1 << 16 },
		"short mac1":            func(in *offline.Intent) { in.MAC1 = in.MAC1[:3] },
	} {
		in := base
		mod(&in)
		if p, err := pendingOf(in); err == nil {
			t.Errorf("%s: pendingOf = %+v, want an error", name, p)
		}
	}
	if _, err := pendingOf(base); err != nil {
		t.Fatal(err)
	}
}
