package pos_test

import (
	"slices"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// The demo student (ledger.SeedDemo): 50.00 paid online waits in the
// account for card sim.DemoStudentNo, whose purse holds 100.00.
const demoTopUp = 5000

// TestClaimThenSale: one tap at an online POS loads the 50.00 waiting in
// the account with the system PIN (no PIN from the customer), shows it,
// then sells from the new balance. The ledger's load is done with the
// card's TAC, the account holds nothing more for loading, the journal
// holds one load and one purchase, no intent is left and the chain
// verifies.
func TestClaimThenSale(t *testing.T) {
	r := newClaimRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	start := balance(card) + r.account(card).Balance

	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Amount != 1250 || res.Loaded != demoTopUp || res.Balance != 10000+demoTopUp-1250 {
		t.Fatalf("tap: %+v", res)
	}
	if balance(card) != 10000+demoTopUp-1250 {
		t.Fatalf("card balance %d", balance(card))
	}
	shown := r.ui.Shown()
	i := slices.IndexFunc(shown, func(m ui.Message) bool { return m.Code == load.CodeLoaded })
	if i < 0 || shown[i].Amount != demoTopUp || shown[i].Balance != 10000+demoTopUp || shown[i].ZH == "" || shown[i].EN == "" {
		t.Fatalf("the load was not shown with its amount and balance: %+v", shown)
	}
	if last := r.last(); last.Code != ui.CodeApproved || i >= len(shown)-1 {
		t.Fatalf("the sale was not shown after the load: %+v", shown)
	}
	a := r.account(card)
	if a.Loadable != 0 || a.Authorised != 0 || balance(card)+a.Balance != start-1250 {
		t.Fatalf("account %+v, card %d, start %d", a, balance(card), start)
	}
	ls := r.loadsOf(card)
	if len(ls[ledger.LoadDone]) != 1 || ls[ledger.LoadDone][0].Inferred || len(ls[ledger.LoadDone][0].TAC) != 4 || len(ls) != 1 {
		t.Fatalf("loads at the ledger: %+v", ls)
	}
	if recs := r.loadRecords(); len(recs) != 1 || recs[0].Amount != demoTopUp {
		t.Fatalf("load records: %+v", recs)
	}
	if k := r.kinds(); k[protocol.KindPurchaseCompleted] != 1 {
		t.Fatalf("journal kinds %v", k)
	}
	r.noIntents()
	r.noLoadIntents()
	if _, err := r.store.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestClaimNothingWaiting: a card whose account holds nothing to load,
// and a card without an account, just pay: nothing is loaded or
// journaled as a load, and only the sale is shown.
func TestClaimNothingWaiting(t *testing.T) {
	r := newClaimRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	r.handle(card, 0) // claims the demo top-up
	r.clock.Advance(time.Minute)
	before := len(r.ui.Codes())
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Loaded != 0 || balance(card) != 10000+demoTopUp-2*1250 {
		t.Fatalf("nothing waiting: %+v, balance %d", res, balance(card))
	}
	if codes := r.ui.Codes()[before:]; slices.Contains(codes, load.CodeLoaded) || len(codes) != 1 {
		t.Fatalf("shown %v", codes)
	}
	other := demoCard(t, "student", "10012026090100000099", 0)
	res = r.handle(other, 0)
	if res.Outcome != pos.Paid || res.Loaded != 0 || balance(other) != 10000-1250 {
		t.Fatalf("no account: %+v", res)
	}
	if n := len(r.loadRecords()); n != 1 {
		t.Fatalf("%d load records, want the first tap's only", n)
	}
	if r.link.claims.Load() < 3 {
		t.Fatalf("the ledger was asked %d times, want every tap", r.link.claims.Load())
	}
}

// TestClaimLedgerSlowOrDown: the ledger does not answer within the claim
// timeout (slow: no answer until the POS gives up; down: the connection
// dies), and the POS sells as if offline: nothing is loaded, the money
// still waits in the account, and the next tap with the link back claims
// it.
func TestClaimLedgerSlowOrDown(t *testing.T) {
	for _, mode := range []int32{linkSlow, linkDown} {
		r := newClaimRig(t, fixed(1250))
		card := demoCard(t, "student", "", 0)
		r.link.mode.Store(mode)
		res := r.handle(card, 0)
		if res.Outcome != pos.Paid || res.Loaded != 0 || balance(card) != 10000-1250 {
			t.Fatalf("mode %d: %+v, balance %d", mode, res, balance(card))
		}
		if r.link.claims.Load() != 1 {
			t.Fatalf("mode %d: the ledger was asked %d times", mode, r.link.claims.Load())
		}
		if a := r.account(card); a.Loadable != demoTopUp || a.Authorised != 0 {
			t.Fatalf("mode %d: account %+v", mode, a)
		}
		if len(r.loadRecords()) != 0 {
			t.Fatalf("mode %d: a load was journaled", mode)
		}
		r.noLoadIntents()
		r.link.mode.Store(linkUp)
		r.clock.Advance(time.Minute)
		if res := r.handle(card, 0); res.Loaded != demoTopUp || balance(card) != 10000+demoTopUp-2*1250 {
			t.Fatalf("mode %d, link back: %+v, balance %d", mode, res, balance(card))
		}
	}
}

// TestClaimTornAtThisPOS: the card is torn away right after it executes
// CREDIT FOR LOAD: the tap asks for the card again and sells nothing; the
// POS restarts (the intent stays uncertain); at the next tap of the same
// POS recovery finds the credit (shown as an earlier load), confirms its
// TAC with the ledger and the sale goes through. The load is once at the
// ledger, card + account = start - sale.
func TestClaimTornAtThisPOS(t *testing.T) {
	for _, kind := range []sim.FaultKind{sim.TearAfter, sim.TearBefore} {
		r := newClaimRig(t, fixed(1250))
		card := demoCard(t, "student", "", 0)
		start := balance(card) + r.account(card).Balance
		if err := card.Arm(sim.Fault{Kind: kind, INS: sim.InsCreditForLoad}); err != nil {
			t.Fatal(err)
		}
		res := r.handle(card, 0)
		if res.Outcome != pos.TapAgain || res.Code != pos.CodeUncertain || r.kinds()[protocol.KindPurchaseCompleted] != 0 {
			t.Fatalf("%v: torn load: %+v", kind, res)
		}
		r.reopen()
		r.clock.Advance(30 * time.Second)
		res = r.handle(card, 0)
		if res.Outcome != pos.Paid || res.Amount != 1250 {
			t.Fatalf("%v: back: %+v", kind, res)
		}
		if res.Loaded != demoTopUp || balance(card) != 10000+demoTopUp-1250 {
			t.Fatalf("%v: back: %+v, balance %d", kind, res, balance(card))
		}
		if kind == sim.TearAfter && !slices.Contains(r.ui.Codes(), load.CodeEarlierLoad) {
			t.Fatalf("%v: the recovered load was not shown: %v", kind, r.ui.Codes())
		}
		a := r.account(card)
		if balance(card)+a.Balance != start-1250 || a.Loadable != 0 || a.Authorised != 0 {
			t.Fatalf("%v: card %d + account %+v != %d", kind, balance(card), a, start-1250)
		}
		ls := r.loadsOf(card)
		if len(ls[ledger.LoadDone]) != 1 || len(ls[ledger.LoadAuthorised]) != 0 {
			t.Fatalf("%v: loads at the ledger: %+v", kind, ls)
		}
		if n := len(r.loadRecords()); n != 1 {
			t.Fatalf("%v: %d load records", kind, n)
		}
		r.noLoadIntents()
		r.noIntents()
		if _, err := r.store.Verify(); err != nil {
			t.Fatal(err)
		}
	}
}

// kioskClaim runs the kiosk's claim of card with the claim engine; the
// card is torn as armed.
func (r *claimRig) kioskClaim(k *kioskEngine, card *sim.Card) load.Result {
	r.t.Helper()
	c := r.tap(card)
	defer r.rdr.Remove()
	info, err := cardread.Read(r.ctx, c, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	res, done, err := k.engine.Resolve(r.ctx, c, &info)
	if err != nil {
		r.t.Fatal(err)
	}
	if done {
		return res
	}
	res, err = k.engine.Claim(r.ctx, c, info, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// TestClaimTornAtKioskThenPOS: a kiosk's load is torn (after the card
// executed CREDIT FOR LOAD, or before), more money arrives in the
// account, and the card taps at the POS: the ledger settles the kiosk's
// load from the card's online counter the POS's probe reports (advanced:
// done, inferred; unchanged: released, its money claimed again with the
// new money), the POS claims what the account holds now and sells. Each load is once at the ledger and
// card + account = start + money in - sale.
//
// With nothing new waiting the POS's probe settles the kiosk's load as
// well (TestClaimProbeAtPOS).
func TestClaimTornAtKioskThenPOS(t *testing.T) {
	for _, kind := range []sim.FaultKind{sim.TearAfter, sim.TearBefore} {
		r := newClaimRig(t, fixed(1250))
		k := r.newKiosk()
		card := demoCard(t, "student", "", 0)
		start := balance(card) + r.account(card).Balance
		if err := card.Arm(sim.Fault{Kind: kind, INS: sim.InsCreditForLoad}); err != nil {
			t.Fatal(err)
		}
		if res := r.kioskClaim(k, card); res.Outcome != load.TapAgain {
			t.Fatalf("%v: the kiosk's torn load: %+v", kind, res)
		}
		if _, err := r.tl.TopUp(r.account(card).ID, 2000, "online top-up"); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Minute)
		res := r.handle(card, 0)
		// Torn before CREDIT the kiosk's load is released by the POS's
		// probe (the card's counter did not move) and claimed with the
		// new money.
		want := int64(2000)
		if kind == sim.TearBefore {
			want += demoTopUp
		}
		if res.Outcome != pos.Paid || res.Loaded != want {
			t.Fatalf("%v: at the POS: %+v", kind, res)
		}
		a := r.account(card)
		if balance(card)+a.Balance != start+2000-1250 || a.Authorised != 0 {
			t.Fatalf("%v: card %d + account %+v != %d", kind, balance(card), a, start+2000-1250)
		}
		ls := r.loadsOf(card)
		switch kind {
		case sim.TearAfter:
			// The kiosk's credit happened: inferred from the counter.
			if balance(card) != 10000+demoTopUp+2000-1250 || a.Loadable != 0 || len(ls[ledger.LoadDone]) != 2 ||
				!slices.ContainsFunc(ls[ledger.LoadDone], func(l ledger.Load) bool { return l.Inferred && l.Amount == demoTopUp }) {
				t.Fatalf("%v: card %d, account %+v, loads %+v", kind, balance(card), a, ls)
			}
		case sim.TearBefore:
			// It did not: released by the probe, its money claimed again
			// with the new money in one load.
			if balance(card) != 10000+demoTopUp+2000-1250 || a.Loadable != 0 || len(ls[ledger.LoadDone]) != 1 ||
				ls[ledger.LoadDone][0].Amount != demoTopUp+2000 {
				t.Fatalf("%v: card %d, account %+v, loads %+v", kind, balance(card), a, ls)
			}
		}
		if len(ls[ledger.LoadAuthorised]) != 0 {
			t.Fatalf("%v: a load still authorised: %+v", kind, ls)
		}
		if n := len(r.loadRecords()); n != 1 {
			t.Fatalf("%v: %d load records at the POS", kind, n)
		}
		r.noLoadIntents()
	}
}

// TestClaimProbeAtPOS: a kiosk's load is torn and nothing new waits; the
// card taps at the POS, whose probe (the card's INITIALIZE FOR LOAD for
// 1 fen, no CREDIT) settles it: torn after CREDIT, the ledger marks it
// done and the POS sells from the credited balance; torn before, the
// money is released and the POS claims it, then sells. A minute later
// the kiosk asks the ledger what became of its load and settles its
// intent: one load record in all, nothing left at either device.
func TestClaimProbeAtPOS(t *testing.T) {
	for _, kind := range []sim.FaultKind{sim.TearAfter, sim.TearBefore} {
		r := newClaimRig(t, fixed(1250))
		k := r.newKiosk()
		card := demoCard(t, "student", "", 0)
		start := balance(card) + r.account(card).Balance
		if err := card.Arm(sim.Fault{Kind: kind, INS: sim.InsCreditForLoad}); err != nil {
			t.Fatal(err)
		}
		if res := r.kioskClaim(k, card); res.Outcome != load.TapAgain {
			t.Fatalf("%v: the kiosk's torn load: %+v", kind, res)
		}
		r.clock.Advance(time.Minute)
		res := r.handle(card, 0)
		want := int64(0)
		if kind == sim.TearBefore {
			want = demoTopUp
		}
		if res.Outcome != pos.Paid || res.Loaded != want || balance(card) != 10000+demoTopUp-1250 {
			t.Fatalf("%v: at the POS: %+v (card %d)", kind, res, balance(card))
		}
		a := r.account(card)
		if balance(card)+a.Balance != start-1250 || a.Authorised != 0 || a.Loadable != 0 {
			t.Fatalf("%v: card %d + account %+v != %d", kind, balance(card), a, start-1250)
		}
		r.clock.Advance(load.StaleAfter)
		if err := k.engine.Confirm(r.ctx); err != nil {
			t.Fatal(err)
		}
		if ls, err := k.store.Loads(); err != nil || len(ls) != 0 {
			t.Fatalf("%v: the kiosk's intents left %+v %v", kind, ls, err)
		}
		atKiosk := 0
		if h, _ := k.store.Head(); h.Seq > 0 {
			es, _ := k.store.Records(0, int(h.Seq)+1)
			for _, e := range es {
				if e.Record.Kind == protocol.KindLoad {
					atKiosk++
				}
			}
		}
		if n := atKiosk + len(r.loadRecords()); n != 1 {
			t.Fatalf("%v: %d load records at the kiosk, %d at the POS, want one in all", kind, atKiosk, len(r.loadRecords()))
		}
		r.noLoadIntents()
	}
}

// TestCardWritesAtPOS (补写 at a POS): the registry's 延期 of the student's
// account waits as a pending write; the card's next sale at an online POS
// writes the new end onto the card first (under the ledger's MAC, durable
// intent, reported with the read-back), then sells; the ledger's end
// follows and nothing stays pending. Offline, the POS sells without it.
func TestCardWritesAtPOS(t *testing.T) {
	r := newClaimRig(t, fixed(1250))
	cw, err := cardwrite.New(cardwrite.Options{Store: cardwrite.OfflineStore{S: r.store}, Ledger: r.cli, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	r.writes = cw
	r.pos = r.newPOS(r.store)
	card := demoCard(t, "student", "", 0)
	if _, err := r.tl.ExtendAccounts([]ledger.Extension{{Line: 1, ID: "S2026001", Until: "20320831"}}); err != nil {
		t.Fatal(err)
	}
	r.link.mode.Store(linkDown)
	if res := r.handle(card, 0); res.Outcome != pos.Paid {
		t.Fatalf("offline sale: %+v", res)
	}
	if ws, _ := r.tl.PendingWrites(sim.DemoStudentNo); len(ws) != 1 {
		t.Fatalf("pending before: %+v", ws)
	}
	r.link.mode.Store(linkUp)
	r.clock.Advance(time.Minute) // past the repeat guard
	if res := r.handle(card, 0); res.Outcome != pos.Paid {
		t.Fatalf("online sale: %+v", res)
	}
	if ws, _ := r.tl.PendingWrites(sim.DemoStudentNo); len(ws) != 0 {
		t.Fatalf("pending after: %+v", ws)
	}
	if r.account(card).ValidUntil != "20320831" {
		t.Fatalf("the ledger's end %s", r.account(card).ValidUntil)
	}
	if card.Profile().Expiry != "20320831" {
		t.Fatalf("the card's end %s", card.Profile().Expiry)
	}
	if k := r.kinds(); k[protocol.KindCardWrite] != 1 || k[protocol.KindPurchaseCompleted] != 2 {
		t.Fatalf("journal kinds %v", k)
	}
}
