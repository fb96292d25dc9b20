package terminal_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// testNow is the rig's start time: a Thursday lunch, inside the demo
// cards' validity.
var testNow = time.Date(2026, 10, 8, 11, 45, 0, 0, time.UTC)

// rig is a POS on a virtual reader with the software SAM and a real store
// in t.TempDir().
type rig struct {
	t      testing.TB
	ctx    context.Context
	clock  *offlinetest.Clock
	store  *offline.Store
	path   string
	sam    *sam.Software
	rdr    *sim.Reader
	events chan reader.Event
	ui     *uitest.Sim
	cfg    config.POS
	rules  *protocol.Rules
	pos    *terminal.POS
}

func newRig(t testing.TB, cfg config.POS) *rig {
	t.Helper()
	clock := offlinetest.NewClock(testNow)
	path := filepath.Join(t.TempDir(), "yktd.db")
	store, err := offline.Open(path, offline.Options{DeviceID: "pos-test-01", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, ctx: ctx, clock: clock, store: store, path: path, sam: s,
		rdr: sim.NewReader("sim:pos", reader.TechISO14443A), events: make(chan reader.Event, 16),
		ui: uitest.New(), cfg: cfg}
	go func() { _ = r.rdr.Run(ctx, r.events) }()
	t.Cleanup(func() {
		cancel()
		offlinetest.CheckAndClose(t, r.store)
	})
	r.pos = r.newPOS(r.store)
	return r
}

// newPOS builds a POS on store with the rig's SAM, display, keypad, clock,
// configuration and rules, and runs Startup.
func (r *rig) newPOS(store terminal.Store) *terminal.POS {
	r.t.Helper()
	pos, err := terminal.NewPOS(terminal.POSOptions{
		Store: store, SAM: r.sam, Display: r.ui, Keypad: r.ui, Buzzer: r.ui, Now: r.clock.Now, Location: time.UTC,
		Config: r.cfg, Rules: func() *protocol.Rules { return r.rules }, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := pos.Startup(); err != nil {
		r.t.Fatal(err)
	}
	return pos
}

// reopen closes the store (as a power cut leaves it: every commit that
// returned is on disk) and opens it again with a fresh POS.
func (r *rig) reopen() {
	r.t.Helper()
	if err := r.store.Close(); err != nil {
		r.t.Fatal(err)
	}
	store, err := offline.Open(r.path, offline.Options{Clock: r.clock})
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = store
	r.pos = r.newPOS(store)
}

// tap presents card and returns its handle once the reader reported it.
func (r *rig) tap(card *sim.Card) reader.Card {
	r.t.Helper()
	r.rdr.Tap(card)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.events:
			if e.Kind == reader.CardPresent {
				return e.Card
			}
		case <-deadline:
			r.t.Fatal("no CardPresent event")
		}
	}
}

// handle taps card and runs one sale.
func (r *rig) handle(card *sim.Card, amount int64) terminal.Result {
	r.t.Helper()
	res, err := r.pos.HandleCard(r.ctx, r.tap(card), amount)
	if err != nil {
		r.t.Fatalf("HandleCard: %v", err)
	}
	r.rdr.Remove()
	return res
}

// listed puts cards on the status list.
func (r *rig) listed(entries ...offline.StatusEntry) {
	r.t.Helper()
	info, err := r.store.StatusInfo()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.store.ApplySnapshot(offline.StatusSnapshot{Version: info.Version + 1, Entries: entries}); err != nil {
		r.t.Fatal(err)
	}
}

// records returns the whole journal.
func (r *rig) records() []protocol.Record {
	r.t.Helper()
	h, err := r.store.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	es, err := r.store.Records(0, int(h.Seq))
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]protocol.Record, len(es))
	for i, e := range es {
		out[i] = e.Record
	}
	return out
}

// kinds counts the journal's records by kind.
func (r *rig) kinds() map[protocol.Kind]int {
	n := map[protocol.Kind]int{}
	for _, rec := range r.records() {
		n[rec.Kind]++
	}
	return n
}

// noIntents fails unless the store holds no open or uncertain intent.
func (r *rig) noIntents() {
	r.t.Helper()
	ins, err := r.store.Intents()
	if err != nil {
		r.t.Fatal(err)
	}
	if len(ins) != 0 {
		r.t.Fatalf("intents left: %+v", ins)
	}
}

// demoCard issues a demo card of the catalogue with another card number
// and balance when no and balance are set.
func demoCard(t testing.TB, name, no string, balance uint32) *sim.Card {
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

func balance(c *sim.Card) int64 { return int64(c.Status().Balance) }

// last is the message shown last.
func (r *rig) last() ui.Message {
	r.t.Helper()
	m, ok := r.ui.Last()
	if !ok {
		r.t.Fatal("nothing shown")
	}
	return m
}

// startShower starts a metered session of card and fails the test if it
// does not start.
func (r *rig) startShower(card *sim.Card) {
	r.t.Helper()
	if res := r.handle(card, 0); res.Outcome != terminal.SessionStarted {
		r.t.Fatalf("start: %+v", res)
	}
}

// tornDebit arms card to be torn away right after it executes DEBIT FOR
// PURCHASE, taps it and checks the POS asks for the card again.
func (r *rig) tornDebit(card *sim.Card, amount int64) {
	r.t.Helper()
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase}); err != nil {
		r.t.Fatal(err)
	}
	if res := r.handle(card, amount); res.Outcome != terminal.TapAgain {
		r.t.Fatalf("torn after DEBIT: %+v", res)
	}
}
