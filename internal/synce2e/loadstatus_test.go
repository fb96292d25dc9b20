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
	if out := r.load(&kioskHost{c: b, cardNo: card}, 1000, 0); out.Kind != epurse.Done {
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
	if out := r.load(hostB, 2000, 0); out.Kind != epurse.Done || r.balance(t) != before+2000 {
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
