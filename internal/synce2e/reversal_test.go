package synce2e

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// sellRig is a terminal that sells: a real offline store, a software SAM
// with the test keys, a demo card and the real sync client, enrolled with
// the ledger over loopback HTTP as kind.
type sellRig struct {
	store  *offline.Store
	clock  *offlinetest.Clock
	client *syncclient.Client
	sam    *sam.Software
	card   simCard
	pub    epurse.PublicData
}

func newSellRig(t *testing.T, lr *ledgerRig, id string, kind protocol.DeviceKind) *sellRig {
	t.Helper()
	clk := offlinetest.NewClock(time.Now().UTC().Add(-time.Hour))
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: id, Clock: clk})
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner(id, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	src := st.SyncSource()
	c, err := syncclient.New(syncclient.Options{Ledger: lr.srv.URL, DeviceID: id, Signer: signer, Kind: kind, Firmware: "test",
		Journal: src, Status: src, Rules: src, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := lr.ledger().NewToken(id, kind.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		t.Fatalf("enrol %s: %v", id, err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	r := &sellRig{store: st, clock: clk, client: c, sam: s, card: simCard{sc}}
	ctx := context.Background()
	if _, err := epurse.Select(ctx, r.card, sim.DefaultAID); err != nil {
		t.Fatal(err)
	}
	if r.pub, err = epurse.ReadPublicData(ctx, r.card); err != nil {
		t.Fatal(err)
	}
	return r
}

// sell runs a real purchase with a durable intent and journals its
// completion (with the TAC flipped when tamper); it returns the intent id.
func (r *sellRig) sell(t *testing.T, amount uint32, tamper bool) uint64 {
	t.Helper()
	r.clock.Advance(time.Minute)
	var in offline.Intent
	out := epurse.Pay(context.Background(), r.card, r.sam, epurse.PurchaseRequest{Amount: amount, Time: epurse.NewDateTime(r.clock.Now()), CardSerial: r.pub.Factor()},
		func(p epurse.Pending) error {
			var err error
			in, err = r.store.OpenIntent(offline.PurchaseIntent{
				CardNo: r.pub.CardNumber(), Amount: int64(p.Amount), BalanceBefore: int64(p.BalanceBefore),
				CardCounter: uint32(p.OfflineCounter), TerminalID: p.TermID[:], TerminalSeq: p.TermSeq, TxTime: p.Time[:],
				CardSerial: p.CardSerial[:], KeyIndex: p.KeyIndex, KeyVersion: p.KeyVersion, Algorithm: byte(p.Algorithm), MAC1: p.MAC1[:],
			})
			return err
		})
	if out.Kind != epurse.Done {
		t.Fatalf("purchase: %v %v", out.Kind, out.Err)
	}
	tac := out.TAC
	if tamper {
		tac[1] ^= 0x80
	}
	if _, err := r.store.CompleteIntent(in.ID, offline.Completion{BalanceAfter: int64(out.BalanceAfter), TAC: tac[:], MAC2: out.MAC2[:]}); err != nil {
		t.Fatal(err)
	}
	return in.ID
}

// reverse journals a purchase-reversed record as the device would (or a
// forger holding the device's key).
func (r *sellRig) reverse(t *testing.T, intent uint64, card string, amount int64) {
	t.Helper()
	if _, err := r.store.Append(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: intent, CardNo: card, Amount: amount, Reason: "cashier"}); err != nil {
		t.Fatal(err)
	}
}

// TestForgedReversalsOweNothing (issue 10.4): enrolled devices journal
// every bad reversal the field trial found (a sale that never existed, a
// 50,000-yuan one, another card, an unverified sale, a second reversal, a
// reversal by a gate) and upload them through the real sync client: every
// batch is acknowledged, no pending load appears for any of them, each is
// an alert, and the one good reversal owes exactly its sale.
func TestForgedReversalsOweNothing(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{IssuerKeys: ledgertest.TestIssuerKeys()})
	pos := newSellRig(t, lr, "pos-canteen-2-01", protocol.DevicePOS)
	card := pos.pub.CardNumber()
	sale := pos.sell(t, 1250, false)
	unverified := pos.sell(t, 800, true)
	pos.reverse(t, 4242, card, 1250)         // no such sale
	pos.reverse(t, sale, card, 5_000_000)    // 50,000 yuan
	pos.reverse(t, sale, "2024000999", 1250) // another card
	pos.reverse(t, unverified, card, 800)    // a sale whose TAC is bad
	pos.reverse(t, sale, card, 1250)         // the good one
	pos.reverse(t, sale, card, 1250)         // sent twice
	gate := newSellRig(t, lr, "gate-north-1", protocol.DeviceGate)
	gs := gate.sell(t, 600, false)
	gate.reverse(t, gs, card, 600) // a gate is no POS

	for _, r := range []*sellRig{pos, gate} {
		head, _ := r.store.Head()
		if res, err := r.client.SyncOnce(ctx); err != nil || res.Cursor != head.Seq {
			t.Fatalf("upload: %+v %v, want everything acknowledged", res, err)
		}
	}
	l := lr.ledger()
	for _, c := range []string{card, "2024000999"} {
		loads, err := l.PendingLoads(c)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if c == card {
			want = 1
		}
		if len(loads) != want || (want == 1 && (loads[0].Amount != 1250 || loads[0].Source != "reversal pos-canteen-2-01/9")) {
			t.Errorf("card %s: pending loads %+v, want only the good reversal's 12.50", c, loads)
		}
	}
	alerts, err := l.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range alerts {
		if a.Kind == ledger.AlertReversal {
			n++
		}
	}
	if n != 6 {
		t.Errorf("%d reversal alerts, want 6: %+v", n, alerts)
	}
}
