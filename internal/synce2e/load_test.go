package synce2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

const kioskID = "kiosk-library-1"

// kioskHost is how a kiosk builds epurse.LoadHost on the sync client
// (syncclient may import nothing of ours but protocol): the card's
// INITIALIZE FOR LOAD answer and the time CREDIT FOR LOAD will carry go to
// the ledger in LoadInit; its MAC2 comes back. The answer is kept for
// ConfirmLoad (a kiosk keeps it with the load's intent).
type kioskHost struct {
	c      *syncclient.Client
	cardNo string
	// tamper, if set, changes the LoadInit before it is sent.
	tamper func(*protocol.LoadInit)

	sent protocol.LoadInit
	resp protocol.LoadInitResponse
}

func (h *kioskHost) AuthorizeLoad(ctx context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	m := protocol.LoadInit{CardNo: h.cardNo, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount),
		KeyIndex: epurse.DefaultKeyIndex, KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm),
		Random: a.Random[:], MAC1: a.MAC1[:], TxTime: a.Time[:]}
	if h.tamper != nil {
		h.tamper(&m)
	}
	h.sent = m
	resp, err := h.c.InitLoad(ctx, m)
	if errors.Is(err, protocol.ErrMACInvalid) {
		return [4]byte{}, fmt.Errorf("%w: %w", epurse.ErrMACInvalid, err)
	}
	if err != nil {
		return [4]byte{}, err
	}
	h.resp = resp
	return [4]byte(resp.MAC2), nil
}

// newSoftSAM is a kiosk's PSAM: a software SAM with the test keys.
func newSoftSAM(t *testing.T) *sam.Software {
	t.Helper()
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// simCard makes a virtual card a reader.Card.
type simCard struct{ c *sim.Card }

func (s simCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return s.c.Respond(cmd) }

// loadRig is a real ledger holding the test issuer keys, a kiosk enrolled
// with it over loopback HTTP, and a demo card in the kiosk's reader. The
// kiosk's clock is the ledger's plus skew.
type loadRig struct {
	lr     *ledgerRig
	clock  *offlinetest.Clock // the ledger's
	skew   time.Duration
	client *syncclient.Client
	card   simCard
	pub    epurse.PublicData
	termID [6]byte
	// pins gives the card's system PIN, which the card needs verified
	// before INITIALIZE FOR LOAD: the kiosk's PSAM (a software SAM with
	// the test keys) unless a test sets another.
	pins epurse.SystemPINSource
}

func newLoadRig(t *testing.T, skew time.Duration) *loadRig {
	t.Helper()
	clk := offlinetest.NewClock(time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC))
	lr := newLedger(t, ledger.Options{Now: clk.Now, IssuerKeys: ledgertest.TestIssuerKeys()})
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner(kioskID, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{Ledger: lr.srv.URL, DeviceID: kioskID, Signer: signer,
		Kind: protocol.DeviceKiosk, Firmware: "test", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := lr.ledger().NewToken(kioskID, "kiosk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	sc, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	r := &loadRig{lr: lr, clock: clk, skew: skew, client: c, card: simCard{sc}, termID: [6]byte{0, 0, 0, 0, 0x4B, 0x10}, pins: newSoftSAM(t)}
	ctx := context.Background()
	if _, err := epurse.Select(ctx, r.card, sim.DefaultAID); err != nil {
		t.Fatal(err)
	}
	if r.pub, err = epurse.ReadPublicData(ctx, r.card); err != nil {
		t.Fatal(err)
	}
	return r
}

// load runs epurse.Load on the card through host, the kiosk's clock off
// by extra more than the rig's skew, presenting the system PIN of r.pins.
func (r *loadRig) load(host epurse.LoadHost, amount uint32, extra time.Duration) epurse.LoadOutcome {
	return r.loadAt(r.termID, host, amount, extra)
}

// loadAt is load at the kiosk whose PSAM has terminal id termID (each
// kiosk its own: the ledger binds one PSAM to one device).
func (r *loadRig) loadAt(termID [6]byte, host epurse.LoadHost, amount uint32, extra time.Duration) epurse.LoadOutcome {
	return epurse.Load(context.Background(), r.card, host, epurse.LoadRequest{Amount: amount,
		Time: epurse.NewDateTime(r.clock.Now().Add(r.skew + extra)), TermID: termID, CardSerial: r.pub.Factor(), PIN: r.pins})
}

// termB is the terminal id of the PSAM of the rig's other kiosk.
var termB = [6]byte{0, 0, 0, 0, 0x4B, 0x20}

func (r *loadRig) balance(t *testing.T) uint32 {
	t.Helper()
	b, err := epurse.GetBalance(context.Background(), r.card)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *loadRig) pending(t *testing.T) []ledger.Load {
	t.Helper()
	p, err := r.lr.ledger().PendingLoads(r.pub.CardNumber())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadOverHTTP: money waiting at the ledger reaches the card through
// the sync client: Pending, InitLoad (MAC1 → MAC2 over the kiosk's time),
// CREDIT FOR LOAD, ConfirmLoad with the TAC.
func TestLoadOverHTTP(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t, 0)
	cardNo := r.pub.CardNumber()
	added, err := r.lr.ledger().AddLoad(cardNo, 3000, "bank transfer")
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.client.Pending(ctx, cardNo)
	if err != nil || len(p.Loads) != 1 || p.Total() != 3000 || p.Loads[0].LoadID != fmt.Sprint(added.ID) {
		t.Fatalf("Pending = %+v, %v", p, err)
	}
	before := r.balance(t)

	// A kiosk that presents no PIN: the card refuses INITIALIZE FOR LOAD
	// (6982) before the ledger is asked; nothing taken.
	noPIN := &kioskHost{c: r.client, cardNo: cardNo}
	r.pins = nil
	out := r.load(noPIN, 3000, 0)
	var se *reader.StatusError
	if out.Kind != epurse.Refused || !errors.As(out.Err, &se) || se.SW != reader.SWSecurityNotSatisfied || noPIN.sent.CardNo != "" {
		t.Fatalf("load without a PIN: %v %v (sent %+v)", out.Kind, out.Err, noPIN.sent)
	}
	if len(r.pending(t)) != 1 || r.balance(t) != before {
		t.Fatal("a load without a PIN took the load or credited the card")
	}
	r.pins = newSoftSAM(t)

	// A MAC1 that is not the card's: refused, nothing taken.
	bad := &kioskHost{c: r.client, cardNo: cardNo, tamper: func(m *protocol.LoadInit) { m.MAC1 = []byte{1, 2, 3, 4} }}
	out = r.load(bad, 3000, 0)
	if out.Kind != epurse.Refused || !errors.Is(out.Err, protocol.ErrMACInvalid) || !errors.Is(out.Err, epurse.ErrMACInvalid) {
		t.Fatalf("wrong MAC1: %v %v", out.Kind, out.Err)
	}
	if len(r.pending(t)) != 1 || r.balance(t) != before {
		t.Fatal("a refused MAC1 took the load or credited the card")
	}

	// A kiosk clock 10 minutes off either way: refused, nothing taken.
	host := &kioskHost{c: r.client, cardNo: cardNo}
	for _, off := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		out := r.load(host, 3000, off)
		if out.Kind != epurse.Refused || !errors.Is(out.Err, protocol.ErrMalformed) {
			t.Fatalf("kiosk time %s off: %v %v", off, out.Kind, out.Err)
		}
		if len(r.pending(t)) != 1 || r.balance(t) != before {
			t.Fatalf("kiosk time %s off took the load or credited the card", off)
		}
	}

	out = r.load(host, 3000, 0)
	if out.Kind != epurse.Done {
		t.Fatalf("load: %v %v", out.Kind, out.Err)
	}
	if got := r.balance(t); got != before+3000 || out.BalanceAfter != got {
		t.Fatalf("card balance %d, was %d, outcome says %d", got, before, out.BalanceAfter)
	}
	if len(r.pending(t)) != 0 {
		t.Fatal("the load still waits after the credit")
	}

	// The same init again (its answer was lost): the same MAC2, no second load.
	again, err := r.client.InitLoad(ctx, host.sent)
	if err != nil || again.LoadID != host.resp.LoadID || !bytes.Equal(again.MAC2, host.resp.MAC2) || !bytes.Equal(again.TxTime, host.resp.TxTime) {
		t.Fatalf("repeated init = %+v, %v; first %+v", again, err, host.resp)
	}
	if _, err := r.lr.ledger().AddLoad(cardNo, 3000, "second transfer"); err != nil {
		t.Fatal(err)
	}
	if again, err := r.client.InitLoad(ctx, host.sent); err != nil || again.LoadID != host.resp.LoadID {
		t.Fatalf("repeated init with another load waiting = %+v, %v", again, err)
	}
	if left := r.pending(t); len(left) != 1 || left[0].Source != "second transfer" {
		t.Fatalf("a repeated init took another load: %+v", left)
	}

	cr, err := r.client.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: host.resp.LoadID, CardNo: cardNo,
		OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	if err != nil || cr.State != protocol.LoadCompleted {
		t.Fatalf("ConfirmLoad = %+v, %v", cr, err)
	}
	ld, err := r.lr.ledger().LoadByID(added.ID)
	if err != nil || ld.State != ledger.LoadDone || ld.Inferred || !bytes.Equal(ld.TxTime, out.Auth.Time[:]) {
		t.Fatalf("load at the ledger %+v, %v", ld, err)
	}
	if c, err := r.lr.ledger().CardInfo(cardNo); err != nil || c.Balance != int64(before)+3000 {
		t.Fatalf("card at the ledger %+v, %v", c, err)
	}
	if p, err := r.client.Pending(ctx, cardNo); err != nil || len(p.Loads) != 1 || p.Loads[0].LoadID == fmt.Sprint(added.ID) {
		t.Fatalf("Pending after the load = %+v, %v", p, err)
	}
}

// TestLoadClocksApart: the kiosk's and the ledger's clocks 30 s apart
// either way: the load works (MAC2 is over the kiosk's time, which the
// card checks) and its TAC verifies at the ledger. This kiosk has no PSAM:
// the system PIN comes from the ledger's derivation (ledger.IssuerPINs,
// in process until the key service serves it).
func TestLoadClocksApart(t *testing.T) {
	for _, skew := range []time.Duration{30 * time.Second, -30 * time.Second} {
		t.Run(skew.String(), func(t *testing.T) {
			ctx := context.Background()
			r := newLoadRig(t, skew)
			r.pins = ledger.IssuerPINs(ledgertest.TestIssuerKeys())
			cardNo := r.pub.CardNumber()
			added, err := r.lr.ledger().AddLoad(cardNo, 3000, "bank transfer")
			if err != nil {
				t.Fatal(err)
			}
			before := r.balance(t)
			host := &kioskHost{c: r.client, cardNo: cardNo}
			out := r.load(host, 3000, 0)
			if out.Kind != epurse.Done {
				t.Fatalf("load with the clocks %s apart: %v %v", skew, out.Kind, out.Err)
			}
			if r.balance(t) != before+3000 {
				t.Fatalf("card balance %d, want %d", r.balance(t), before+3000)
			}
			cr, err := r.client.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: host.resp.LoadID, CardNo: cardNo,
				OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
			if err != nil || cr.State != protocol.LoadCompleted {
				t.Fatalf("ConfirmLoad = %+v, %v", cr, err)
			}
			if ld, _ := r.lr.ledger().LoadByID(added.ID); ld.State != ledger.LoadDone {
				t.Fatalf("load at the ledger: %s", ld.State)
			}
			if len(r.pending(t)) != 0 {
				t.Fatal("the load still waits")
			}
		})
	}
}
