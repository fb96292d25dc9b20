package pos_test

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/pos"
)

// purchaseOnlySAM is a PSAM that derives no system PIN (a purchase PSAM
// without the system-PIN master key).
type purchaseOnlySAM struct{ epurse.SAM }

// TestClaimNeedsAuthority: the claim moves money onto the card only with
// the system PIN (the PSAM's) and the ledger's MAC2. A POS whose PSAM
// derives no system PIN, one with pos.claim_loads = false, and one whose
// device the ledger revoked all just sell: nothing is loaded and the money stays in the
// account.
func TestClaimNeedsAuthority(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *claimRig) *pos.POS
		asked bool // the ledger is asked (and refuses)
	}{
		{"no-system-pin", func(r *claimRig) *pos.POS {
			return r.posWith(pos.Options{SAM: purchaseOnlySAM{r.sam}, Ledger: r.cli})
		}, false},
		{"claim-loads-off", func(r *claimRig) *pos.POS {
			no := false
			cfg := r.cfg
			cfg.ClaimLoads = &no
			return r.posWith(pos.Options{SAM: r.sam, Ledger: r.cli, Config: cfg})
		}, false},
		{"unknown-device", func(r *claimRig) *pos.POS {
			// Another POS's client, enrolled as "pos-other" and then
			// revoked: the ledger trusts its signature no more.
			other := enrolClient(r.t, r.tl, r.link.url, "pos-other", protocol.DevicePOS)
			if err := r.tl.Revoke("pos-other"); err != nil {
				r.t.Fatal(err)
			}
			return r.posWith(pos.Options{SAM: r.sam, Ledger: other})
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newClaimRig(t, fixed(1250))
			r.pos = c.setup(r)
			card := demoCard(t, "student", "", 0)
			asked := r.link.claims.Load()
			res := r.handle(card, 0)
			if res.Outcome != pos.Paid || res.Loaded != 0 || balance(card) != 10000-1250 {
				t.Fatalf("%+v, balance %d", res, balance(card))
			}
			if got := r.link.claims.Load() > asked; got != c.asked {
				t.Fatalf("the ledger asked: %v, want %v", got, c.asked)
			}
			if a := r.account(card); a.Loadable != demoTopUp || a.Authorised != 0 {
				t.Fatalf("account %+v", a)
			}
			if len(r.loadRecords()) != 0 || slices.Contains(r.ui.Codes(), load.CodeLoaded) {
				t.Fatal("loaded without the authority")
			}
			r.noLoadIntents()
		})
	}
}

// posWith builds a POS on the rig's store, display and clock with the
// SAM, ledger and (when set) configuration of o, and runs Startup.
func (r *claimRig) posWith(o pos.Options) *pos.POS {
	r.t.Helper()
	if o.Config.Mode == "" {
		o.Config = r.cfg
	}
	o.Store, o.Display, o.Keypad, o.Now, o.Location = r.store, r.ui, r.ui, r.clock.Now, time.UTC
	if o.Logger == nil {
		o.Logger = quietLog()
	}
	p, err := pos.New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := p.Startup(); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// cutAfterAuthorize is the real store with the power cut right after the
// load intent with the ledger's MAC2 is committed (CREDIT FOR LOAD not
// sent yet).
type cutAfterAuthorize struct{ *offline.Store }

func (s cutAfterAuthorize) AuthorizeLoad(id uint64, loadID string, mac2 []byte) (offline.Load, error) {
	l, err := s.Store.AuthorizeLoad(id, loadID, mac2)
	if err == nil {
		panic(powerCut{})
	}
	return l, err
}

// TestClaimPowerCutBeforeCredit: the power is cut with the load intent
// open (MAC2 known, CREDIT not sent): the POS's Startup marks it
// uncertain, and the card's next tap finds it not credited (counter
// unchanged), claims the same load again and sells. The load is once at
// the ledger, card + account = start - sale.
func TestClaimPowerCutBeforeCredit(t *testing.T) {
	r := newClaimRig(t, fixed(1250))
	card := demoCard(t, "student", "", 0)
	start := balance(card) + r.account(card).Balance
	r.pos = r.newPOS(cutAfterAuthorize{r.store})
	if !protect(t, func() { _, _ = r.pos.HandleCard(r.ctx, r.tap(card), 0) }) {
		t.Fatal("the power was not cut")
	}
	r.rdr.Remove()
	r.reopen()
	ls, err := r.store.Loads()
	if err != nil || len(ls) != 1 || ls[0].State != offline.LoadUncertain {
		t.Fatalf("after the restart: %+v %v", ls, err)
	}
	r.clock.Advance(time.Minute)
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Loaded != demoTopUp || balance(card) != 10000+demoTopUp-1250 {
		t.Fatalf("%+v, balance %d", res, balance(card))
	}
	a := r.account(card)
	if balance(card)+a.Balance != start-1250 || a.Loadable != 0 || a.Authorised != 0 {
		t.Fatalf("card %d + account %+v != %d", balance(card), a, start-1250)
	}
	if n := len(r.loadRecords()); n != 1 {
		t.Fatalf("%d load records", n)
	}
	r.noLoadIntents()
}

// TestClaimRefusedSells: the ledger refuses the staff card's load
// (spend-only, demo account T2020004 with 30.00 waiting): the POS does
// not try to load it and sells as usual; the money stays in the account.
func TestClaimRefusedSells(t *testing.T) {
	r := newClaimRig(t, fixed(1250))
	card := demoCard(t, "staff", "", 0)
	before := balance(card)
	res := r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Loaded != 0 || balance(card) != before-1250 {
		t.Fatalf("%+v, balance %d", res, balance(card))
	}
	if r.link.claims.Load() != 1 {
		t.Fatalf("claims asked %d times", r.link.claims.Load())
	}
	if a := r.account(card); a.Loadable != 3000 || a.Authorised != 0 {
		t.Fatalf("account %+v", a)
	}
	if len(r.loadRecords()) != 0 || len(r.loadsOf(card)) != 0 {
		t.Fatal("a load was tried")
	}
	r.noLoadIntents()
}

// TestClaimMeteredStart: a shower claims when its session starts, not
// when the card stops it (the tap that stops pays the session's minutes).
func TestClaimMeteredStart(t *testing.T) {
	r := newClaimRig(t, shower(1000))
	card := demoCard(t, "student", "", 0)
	res := r.handle(card, 0)
	if res.Outcome != pos.SessionStarted || res.Loaded != demoTopUp || balance(card) != 10000+demoTopUp {
		t.Fatalf("start: %+v, balance %d", res, balance(card))
	}
	if _, err := r.tl.TopUp(r.account(card).ID, 2000, "online top-up"); err != nil {
		t.Fatal(err)
	}
	asked := r.link.claims.Load()
	r.clock.Advance(3 * time.Minute)
	res = r.handle(card, 0)
	if res.Outcome != pos.Paid || res.Loaded != 0 || r.link.claims.Load() != asked {
		t.Fatalf("stop: %+v, claims asked %d more", res, r.link.claims.Load()-asked)
	}
	if a := r.account(card); a.Loadable != 2000 {
		t.Fatalf("account %+v", a)
	}
}

// TestClaimLedgerDownLoggedOnce: the ledger not answering claims is
// logged at info once, not at every tap, and its return once.
func TestClaimLedgerDownLoggedOnce(t *testing.T) {
	r := newClaimRig(t, fixed(100))
	var buf bytes.Buffer
	r.pos = r.posWith(pos.Options{SAM: r.sam, Ledger: r.cli, Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	card := demoCard(t, "staff", "", 0) // spend-only: nothing is loaded when the ledger answers
	r.link.mode.Store(linkDown)
	for range 3 {
		if res := r.handle(card, 0); res.Outcome != pos.Paid {
			t.Fatalf("%+v", res)
		}
		r.clock.Advance(time.Minute)
	}
	r.link.mode.Store(linkUp)
	for range 2 {
		r.handle(card, 0)
		r.clock.Advance(time.Minute)
	}
	logs := buf.String()
	if n := strings.Count(logs, "does not answer claims"); n != 1 {
		t.Fatalf("the outage logged %d times:\n%s", n, logs)
	}
	if n := strings.Count(logs, "answers claims again"); n != 1 {
		t.Fatalf("the return logged %d times:\n%s", n, logs)
	}
}
