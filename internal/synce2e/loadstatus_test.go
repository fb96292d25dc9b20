package synce2e

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// enrolKiosk enrols another kiosk with the rig's ledger.
func (r *loadRig) enrolKiosk(t *testing.T, id string) *syncclient.Client {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner(id, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{Ledger: r.lr.srv.URL, DeviceID: id, Signer: signer,
		Kind: protocol.DeviceKiosk, Firmware: "test", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := r.lr.ledger().NewToken(id, "kiosk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		t.Fatalf("enrol %s: %v", id, err)
	}
	return c
}

// TestLoadStatusAfterAnotherKiosk (issue 14): a load torn at kiosk A
// whose card goes to kiosk B instead of coming back. A asks the ledger
// what became of it (/v1/loads/status): unknown while the card was seen
// nowhere; completed once B's load at the next online counter proved the
// credit; and, for a load torn before the card took it, cancelled once B
// was given the same money at the same counter. Another device's load,
// or another card's, is refused.
func TestLoadStatusAfterAnotherKiosk(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t, 0)
	b := r.enrolKiosk(t, "kiosk-other-1")
	card := r.pub.CardNumber()
	status := func(c *syncclient.Client, id string) protocol.LoadState {
		t.Helper()
		st, err := c.LoadStatus(ctx, id, card)
		if err != nil {
			t.Fatalf("load status %s: %v", id, err)
		}
		return st
	}
	// present takes the card away and puts it on another reader: powered
	// again, the application selected.
	present := func() {
		t.Helper()
		r.card.c.Reset()
		if _, err := epurse.Select(ctx, r.card, sim.DefaultAID); err != nil {
			t.Fatal(err)
		}
	}
	tear := func(k sim.FaultKind) {
		t.Helper()
		if err := r.card.c.Arm(sim.Fault{Kind: k, INS: sim.InsCreditForLoad, Nth: 1}); err != nil {
			t.Fatal(err)
		}
	}

	// Torn after CREDIT: the card holds the money.
	if _, err := r.lr.ledger().AddLoad(card, 3000, "operator"); err != nil {
		t.Fatal(err)
	}
	hostA := &kioskHost{c: r.client, cardNo: card}
	tear(sim.TearAfter)
	if out := r.load(hostA, 3000, 0); out.Kind != epurse.Uncertain {
		t.Fatalf("torn load at A: %v %v", out.Kind, out.Err)
	}
	torn := hostA.resp.LoadID
	if st := status(r.client, torn); st != protocol.LoadInitiated {
		t.Fatalf("before the card was seen again: %v", st)
	}
	// At B with more money waiting: B's INITIALIZE shows the next counter.
	if _, err := r.lr.ledger().AddLoad(card, 1000, "operator"); err != nil {
		t.Fatal(err)
	}
	present()
	if out := r.loadAt(termB, &kioskHost{c: b, cardNo: card}, 1000, 0); out.Kind != epurse.Done {
		t.Fatalf("load at B: %v %v", out.Kind, out.Err)
	}
	if st := status(r.client, torn); st != protocol.LoadCompleted {
		t.Fatalf("after B's load at the next counter: %v", st)
	}

	// Torn before CREDIT: nothing credited; B gets the same money.
	if _, err := r.lr.ledger().AddLoad(card, 2000, "operator"); err != nil {
		t.Fatal(err)
	}
	hostA = &kioskHost{c: r.client, cardNo: card}
	present()
	tear(sim.TearBefore)
	if out := r.load(hostA, 2000, 0); out.Kind != epurse.Uncertain && out.Kind != epurse.Void {
		t.Fatalf("load torn before CREDIT at A: %v %v", out.Kind, out.Err)
	}
	notCredited := hostA.resp.LoadID
	present()
	before := r.balance(t)
	hostB := &kioskHost{c: b, cardNo: card}
	if out := r.loadAt(termB, hostB, 2000, 0); out.Kind != epurse.Done || r.balance(t) != before+2000 {
		t.Fatalf("load at B of the same money: %v %v", out.Kind, out.Err)
	}
	if st := status(r.client, notCredited); st != protocol.LoadCancelled {
		t.Fatalf("A's load B was given again: %v", st)
	}
	if st := status(b, hostB.resp.LoadID); st != protocol.LoadInitiated && st != protocol.LoadCompleted {
		t.Fatalf("B's own load: %v", st)
	}
	if _, err := r.client.LoadStatus(ctx, torn, "10012026090100000099"); !errors.Is(err, protocol.ErrNoPendingLoad) {
		t.Fatalf("another card's load: %v", err)
	}
}

// probeHost reports the card's INITIALIZE FOR LOAD answer to the ledger
// as a probe (PathLoadProbe) and stops the load before CREDIT.
type probeHost struct {
	c      *syncclient.Client
	cardNo string
	forge  bool // flip a bit of the card's MAC1
	claims protocol.Claims
	err    error
}

var errProbed = errors.New("probed: no CREDIT")

func (h *probeHost) AuthorizeLoad(ctx context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	if h.forge {
		a.MAC1[0] ^= 1
	}
	h.claims, h.err = h.c.ProbeLoad(ctx, protocol.LoadInit{CardNo: h.cardNo, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount),
		KeyIndex: epurse.DefaultKeyIndex, KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm),
		Random: a.Random[:], MAC1: a.MAC1[:], TxTime: a.Time[:]})
	return [4]byte{}, errProbed
}

// TestLoadProbeAtAnotherKiosk (issue 14): a load torn at kiosk A, the
// card placed on kiosk B with nothing new to claim. The ledger's claims
// say a load of the card is unsettled; B reports the card's online
// counter (a probe: INITIALIZE FOR LOAD of 1 fen, no CREDIT), and the
// ledger settles it: torn after CREDIT, done (A is told completed);
// torn before, released and claimable again, and B loads it. A forged
// probe (a MAC1 that does not verify) settles nothing.
func TestLoadProbeAtAnotherKiosk(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t, 0)
	b := r.enrolKiosk(t, "kiosk-other-2")
	card := r.pub.CardNumber()
	present := func() {
		t.Helper()
		r.card.c.Reset()
		if _, err := epurse.Select(ctx, r.card, sim.DefaultAID); err != nil {
			t.Fatal(err)
		}
	}
	probe := func() protocol.Claims {
		t.Helper()
		present()
		h := &probeHost{c: b, cardNo: card}
		if out := r.loadAt(termB, h, 1, 0); !errors.Is(out.Err, errProbed) || h.err != nil {
			t.Fatalf("probe: %v %v, %v", out.Kind, out.Err, h.err)
		}
		return h.claims
	}
	for _, tc := range []struct {
		tear        sim.FaultKind
		credited    bool
		statusAtA   protocol.LoadState
		claimableAt int64
	}{
		{sim.TearAfter, true, protocol.LoadCompleted, 0},
		{sim.TearBefore, false, protocol.LoadCancelled, 2500},
	} {
		present()
		start := r.balance(t)
		if _, err := r.lr.ledger().AddLoad(card, 2500, "operator"); err != nil {
			t.Fatal(err)
		}
		hostA := &kioskHost{c: r.client, cardNo: card}
		if err := r.card.c.Arm(sim.Fault{Kind: tc.tear, INS: sim.InsCreditForLoad, Nth: 1}); err != nil {
			t.Fatal(err)
		}
		r.load(hostA, 2500, 0)
		c, err := b.Claims(ctx, card, int64(start))
		if err != nil || !c.Unsettled {
			t.Fatalf("%v: claims at B %+v %v, want unsettled", tc.tear, c, err)
		}
		present()
		forged := &probeHost{c: b, cardNo: card, forge: true}
		r.loadAt(termB, forged, 1, 0)
		if !errors.Is(forged.err, protocol.ErrMACInvalid) {
			t.Fatalf("%v: a forged probe: %v", tc.tear, forged.err)
		}
		if c, _ := b.Claims(ctx, card, int64(start)); !c.Unsettled {
			t.Fatalf("%v: a forged probe settled the load: %+v", tc.tear, c)
		}
		c = probe()
		if c.Unsettled || c.Claimable != tc.claimableAt {
			t.Fatalf("%v: claims after the probe %+v", tc.tear, c)
		}
		if st, err := r.client.LoadStatus(ctx, hostA.resp.LoadID, card); err != nil || st != tc.statusAtA {
			t.Fatalf("%v: A's load %v %v, want %v", tc.tear, st, err, tc.statusAtA)
		}
		if !tc.credited {
			present()
			if out := r.loadAt(termB, &kioskHost{c: b, cardNo: card}, 2500, 0); out.Kind != epurse.Done {
				t.Fatalf("load at B: %v %v", out.Kind, out.Err)
			}
		}
		if got := r.balance(t); got != start+2500 {
			t.Fatalf("%v: card %d, want %d", tc.tear, got, start+2500)
		}
	}
}
