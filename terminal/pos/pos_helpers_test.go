package pos_test

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
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/terminaltest"
	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// testNow is the rig's start time (terminaltest.Now).
var testNow = terminaltest.Now

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
	pos    *pos.POS
	// base is the journal head after the rig's setup (the signed status
	// list it holds): records and kinds count what the test did after it.
	base uint64
	// link, if set, is the POS's ledger for claims (claimRig).
	link pos.Ledger
	// writes, if set, completes pending card writes before the sale.
	writes *cardwrite.Engine
}

// newRig is a POS holding a signed, empty status list: a terminal takes
// no money before it holds one (newRigNoList).
func newRig(t testing.TB, cfg config.POS) *rig {
	t.Helper()
	return newRigList(t, cfg, true)
}

// newRigNoList is a POS that never received a status list.
func newRigNoList(t testing.TB, cfg config.POS) *rig {
	t.Helper()
	return newRigList(t, cfg, false)
}

func newRigList(t testing.TB, cfg config.POS, list bool) *rig {
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
	if list {
		r.base = applySignedList(t, store, 1)
	}
	r.pos = r.newPOS(r.store)
	return r
}

// applySignedList gives store a signed status list (terminaltest).
var applySignedList = terminaltest.ApplySignedList

// newPOS builds a POS on store with the rig's SAM, display, keypad, clock,
// configuration and rules, and runs Startup.
func (r *rig) newPOS(store pos.Store) *pos.POS {
	r.t.Helper()
	p, err := pos.New(pos.Options{
		Store: store, SAM: r.sam, Display: r.ui, Keypad: r.ui, Buzzer: r.ui, Now: r.clock.Now, Location: time.UTC,
		Config: r.cfg, Rules: func() *protocol.Rules { return r.rules }, Logger: slog.New(slog.DiscardHandler),
		Ledger: r.link, Writes: r.writes,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := p.Startup(); err != nil {
		r.t.Fatal(err)
	}
	return p
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
func (r *rig) handle(card *sim.Card, amount int64) pos.Result {
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
	applySignedList(r.t, r.store, info.Version+1, entries...)
}

// records returns the journal after the rig's setup.
func (r *rig) records() []protocol.Record {
	r.t.Helper()
	h, err := r.store.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	es, err := r.store.Records(r.base, int(h.Seq))
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

// demoCard and balance are terminaltest's.
var (
	demoCard = terminaltest.DemoCard
	balance  = terminaltest.Balance
)

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
	if res := r.handle(card, 0); res.Outcome != pos.SessionStarted {
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
	if res := r.handle(card, amount); res.Outcome != pos.TapAgain {
		r.t.Fatalf("torn after DEBIT: %+v", res)
	}
}

// cashierPIN is the rigs' cashier PIN.
const cashierPIN = terminaltest.CashierPIN
