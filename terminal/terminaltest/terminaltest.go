// Package terminaltest holds what the tests of the device rooms share
// (terminal, terminal/pos, terminal/gate, terminal/cardread): the test
// clock's start, demo cards, a signed status list applied the way the sync
// client applies it, and the cashier's PIN.
package terminaltest

import (
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
)

// Now is the rigs' start time: a Thursday lunch, inside the demo cards'
// validity.
var Now = time.Date(2026, 10, 8, 11, 45, 0, 0, time.UTC)

// CashierPIN is the rigs' cashier PIN (config.HashPIN makes its hash).
const CashierPIN = "2580"

// LedgerKey signs the status lists the test terminals hold.
var LedgerKey = sync.OnceValue(func() *protocol.Signer {
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		panic(err)
	}
	s, err := protocol.NewSigner("test-ledger", protocol.AlgEd25519, priv)
	if err != nil {
		panic(err)
	}
	return s
})

// ApplySignedList gives store the status list version with entries the
// way the sync client does: the ledger key signs the snapshot, the
// terminal verifies it and applies it with its signed digest. It returns
// the journal head after the apply (the list's config-applied record).
func ApplySignedList(t testing.TB, store *offline.Store, version uint64, entries ...offline.StatusEntry) uint64 {
	t.Helper()
	items := make([]protocol.StatusItem, len(entries))
	for i, e := range entries {
		items[i] = protocol.StatusItem{Card: e.CardNo, Reason: uint8(e.Reason), Since: e.Since.Unix()}
	}
	slices.SortFunc(items, func(a, b protocol.StatusItem) int { return strings.Compare(a.Card, b.Card) })
	snap := protocol.StatusSnapshot{Version: version, Entries: items}
	d := protocol.StatusDigest(snap.StatusEntries())
	snap.Digest = d[:]
	raw, err := protocol.Seal(LedgerKey(), &snap, store.DeviceID())
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := protocol.OpenStatus(protocol.NewKeys(LedgerKey().PublicKey()), raw, store.DeviceID())
	if err != nil || got == nil {
		t.Fatalf("signed status list does not open: %v", err)
	}
	if err := store.SyncSource().ApplyStatusSnapshot(*got); err != nil {
		t.Fatal(err)
	}
	h, err := store.Head()
	if err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

// DemoCard issues a demo card of the catalogue, with another card number
// and balance when no and balance are set.
func DemoCard(t testing.TB, name, no string, balance uint32) *sim.Card {
	t.Helper()
	for _, d := range sim.Catalogue() {
		if d.Name != name {
			continue
		}
		if no != "" {
			d.Profile.CardNo = no
		}
		if balance != 0 {
			d.Balance = balance
		}
		c, err := d.Issue()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Fatalf("no demo card %s", name)
	return nil
}

// Balance is the card's balance in fen.
func Balance(c *sim.Card) int64 { return int64(c.Status().Balance) }

// GateRules lets students and staff through dorm-3-east all day, every
// day, with a 10-minute anti-passback.
func GateRules() *protocol.Rules {
	return &protocol.Rules{
		Version:  1,
		Doors:    []protocol.Door{{ID: "dorm-3-east", AntiPassbackSec: 600}},
		Profiles: []protocol.TimeProfile{{ID: "always", Windows: []protocol.TimeWindow{{Days: 0x7F, Start: 0, End: 1440}}}},
		Groups: []protocol.AccessGroup{{ID: "residents", Doors: []string{"dorm-3-east"}, Profile: "always",
			Classes: []uint8{sim.ClassStudent, sim.ClassStaff}}},
	}
}
