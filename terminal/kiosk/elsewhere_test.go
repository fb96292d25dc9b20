package kiosk_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/load"
)

// elsewhere is a second kiosk at the rig's ledger: its own device key,
// store and reader, the card carried over to it.
type elsewhere struct {
	r      *rig
	client *syncclient.Client
	store  *offline.Store
	path   string
	// sam is the other kiosk's own PSAM (the ledger binds one PSAM to one
	// device).
	sam *sam.Software
}

func (r *rig) elsewhere(id string) *elsewhere {
	r.t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		r.t.Fatal(err)
	}
	signer, err := protocol.NewSigner(id, protocol.AlgEd25519, priv)
	if err != nil {
		r.t.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{Ledger: r.ledger.URL, DeviceID: id, Signer: signer,
		Kind: protocol.DeviceKiosk, Firmware: "test", Logger: quiet()})
	if err != nil {
		r.t.Fatal(err)
	}
	tok, _, err := r.ledger.NewToken(id, "kiosk")
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		r.t.Fatalf("enrol %s: %v", id, err)
	}
	e := &elsewhere{r: r, client: c, path: filepath.Join(r.t.TempDir(), "other.db")}
	if e.sam, err = sam.NewSoftware(sam.TestKeysFor(id)); err != nil {
		r.t.Fatal(err)
	}
	if e.store, err = offline.Open(e.path, offline.Options{DeviceID: id, Clock: r.clock}); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = e.store.Close() })
	return e
}

// kiosk is a fresh kiosk on the second store (as after a start).
func (e *elsewhere) kiosk(store kiosk.Store) *kiosk.Kiosk {
	e.r.t.Helper()
	k, err := kiosk.New(kiosk.Options{Store: store, Ledger: e.client, SAM: e.sam, Display: e.r.ui,
		Now: e.r.clock.Now, Location: time.UTC, Config: e.r.cfg, Logger: quiet()})
	if err != nil {
		e.r.t.Fatal(err)
	}
	if err := k.Startup(e.r.ctx); err != nil {
		e.r.t.Fatal(err)
	}
	return k
}

// reopen closes and opens the second store (a power cut).
func (e *elsewhere) reopen() {
	e.r.t.Helper()
	if err := e.store.Close(); err != nil {
		e.r.t.Fatal(err)
	}
	s, err := offline.Open(e.path, offline.Options{Clock: e.r.clock})
	if err != nil {
		e.r.t.Fatal(err)
	}
	e.store = s
}

func loadsIn(t *testing.T, s *offline.Store) []protocol.Record {
	t.Helper()
	h, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.Records(0, int(h.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	var out []protocol.Record
	for _, e := range es {
		if e.Record.Kind == protocol.KindLoad {
			out = append(out, e.Record)
		}
	}
	return out
}

// runElsewhereCase tears the claim at kiosk A with the case's faults,
// then carries the card to kiosk B (whose store the case's power cut
// hits) until B's tap settles; later A asks the ledger what became of
// what it left uncertain. Afterwards: the card holds the start plus the
// load, the ledger's load is done and nothing waits, one load record in
// A's and B's journals together, no intent left at either, both chains
// verify.
func runElsewhereCase(t *testing.T, c tearCase) tearStats {
	t.Helper()
	r := newRig(t)
	b := r.elsewhere("kiosk-library-2")
	card := demoCard(t, "student", "", tearStart)
	ld := r.addLoad(card, tearAmount)
	for _, f := range c.tears {
		if err := card.Arm(f); err != nil {
			t.Fatal(err)
		}
	}
	var st tearStats
	st.taps++
	if _, err := r.kiosk.HandleCard(r.ctx, countingCard{r.tap(card), &st.apdus}); err != nil {
		t.Logf("tap at A: %v", err)
	}
	r.rdr.Remove()
	settled := false
	var res kiosk.Result
	for st.taps < maxTaps && !settled {
		st.taps++
		cs := &cuttingStore{Store: b.store, at: c.cut, after: c.cutAfter, commits: &st.commits}
		died := protect(func() {
			var err error
			res, err = b.kiosk(cs).HandleCard(r.ctx, countingCard{r.tap(card), &st.apdus})
			if err != nil {
				t.Logf("tap %d at B: %v", st.taps, err)
			}
		})
		r.rdr.Remove()
		if died {
			st.cuts++
			c.cut = 0
		}
		b.reopen()
		settled = !died && res.Outcome != kiosk.TapAgain
		r.clock.Advance(5 * time.Second)
	}
	if !settled {
		t.Fatalf("%v: not settled at B after %d taps (last %+v)", c, st.taps, res)
	}
	// A, a while later: what it left uncertain is settled by the ledger.
	r.clock.Advance(load.StaleAfter + time.Second)
	if err := r.kiosk.Confirm(r.ctx); err != nil {
		t.Fatal(err)
	}
	if got := balance(card); got != tearStart+tearAmount {
		t.Fatalf("%v: card balance %d, want %d", c, got, tearStart+tearAmount)
	}
	ra, rb := loadsIn(t, r.store), loadsIn(t, b.store)
	if len(ra)+len(rb) != 1 {
		t.Fatalf("%v: %d load records at A, %d at B, want one in all", c, len(ra), len(rb))
	}
	for _, s := range []*offline.Store{r.store, b.store} {
		if ls, err := s.Loads(); err != nil || len(ls) != 0 {
			t.Fatalf("%v: intents left: %+v %v", c, ls, err)
		}
		if _, err := s.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.ledger.LoadByID(ld.ID)
	if err != nil || got.State != "done" {
		t.Fatalf("%v: the ledger's load %+v %v", c, got, err)
	}
	if p, _ := r.ledger.PendingLoads(card.Profile().CardNumber()); len(p) != 0 {
		t.Fatalf("%v: loads still waiting %+v", c, p)
	}
	st.fired = len(card.Faults()) == 0
	return st
}

// TestLoadTornThenElsewhere: the claim at kiosk A torn before and after
// each of its commands, the card then carried to kiosk B with the power
// cut before and after each of B's commits; see runElsewhereCase.
func TestLoadTornThenElsewhere(t *testing.T) {
	clean := runTearCase(t, tearCase{})
	tear := func(k sim.FaultKind, n int) sim.Fault { return sim.Fault{Kind: k, INS: sim.InsAny, Nth: n} }
	cases := 0
	for n := 1; n <= clean.apdus; n++ {
		for _, k := range []sim.FaultKind{sim.TearBefore, sim.TearAfter} {
			tc := tearCase{tears: []sim.Fault{tear(k, n)}}
			var base tearStats
			t.Run(tc.String(), func(t *testing.T) {
				if base = runElsewhereCase(t, tc); !base.fired {
					t.Fatalf("%v: an armed tear never fired", tc)
				}
			})
			cases++
			for cut := 1; cut <= base.commits; cut++ {
				for _, after := range []bool{false, true} {
					c := tc
					c.cut, c.cutAfter = cut, after
					t.Run(c.String(), func(t *testing.T) { runElsewhereCase(t, c) })
					cases++
				}
			}
		}
	}
	t.Logf("%d cases", cases)
}
