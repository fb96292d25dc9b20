package sim_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

var testTime = epurse.NewDateTime(time.Date(2026, 10, 8, 11, 45, 30, 0, time.UTC))

// counterRand is a deterministic challenge source.
type counterRand struct{ n uint32 }

func (r *counterRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 4 {
		r.n++
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], r.n*2654435761)
		copy(p[i:], b[:])
	}
	return len(p), nil
}

// rig is a virtual reader with a demo card, a software SAM and the events.
type rig struct {
	t      *testing.T
	ctx    context.Context
	card   *sim.Card
	reader *sim.Reader
	sam    *sam.Software
	events chan reader.Event
	slept  []time.Duration
}

func newRig(t *testing.T, demo string) *rig {
	t.Helper()
	card, err := sim.NewDemoCard(demo)
	if err != nil {
		t.Fatal(err)
	}
	card.SetRandom(&counterRand{})
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &rig{t: t, ctx: ctx, card: card, sam: s, events: make(chan reader.Event, 16)}
	r.reader = sim.NewReader("sim:0", reader.TechISO14443A)
	r.reader.Sleep = func(ctx context.Context, d time.Duration) error {
		r.slept = append(r.slept, d)
		return ctx.Err()
	}
	go func() { _ = r.reader.Run(ctx, r.events) }()
	return r
}

// tap presents the card, waits for CardPresent and selects the e-purse.
func (r *rig) tap() (reader.Card, epurse.PublicData) {
	r.t.Helper()
	r.reader.Tap(r.card)
	for {
		select {
		case e := <-r.events:
			if e.Kind != reader.CardPresent {
				continue
			}
			if !bytes.Equal(e.ATR, r.card.ATR()) || len(e.UID) != 4 {
				r.t.Fatalf("event %v", e)
			}
			if _, err := epurse.Select(r.ctx, e.Card, epurse.AIDKingstar); err != nil {
				r.t.Fatal(err)
			}
			pub, err := epurse.ReadPublicData(r.ctx, e.Card)
			if err != nil {
				r.t.Fatal(err)
			}
			return e.Card, pub
		case <-time.After(5 * time.Second):
			r.t.Fatal("no CardPresent event")
		}
	}
}

func (r *rig) pay(card reader.Card, pub epurse.PublicData, amount uint32) epurse.PurchaseOutcome {
	return epurse.Pay(r.ctx, card, r.sam, epurse.PurchaseRequest{Amount: amount, Time: testTime, CardSerial: pub.Factor()}, nil)
}

// cardKeys diversifies the test keys for a card.
func cardKeys(t *testing.T, factor [8]byte) epurse.CardKeys {
	t.Helper()
	ck, err := sam.TestKeys().Keys[1].ForCard(epurse.AlgDES, factor)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// wantTAC recomputes the purchase TAC the ledger would check.
func wantTAC(t *testing.T, p epurse.Pending) [4]byte {
	t.Helper()
	ck, err := sam.TestKeys().Keys[p.KeyVersion].ForCard(p.Algorithm, p.CardSerial)
	if err != nil {
		t.Fatal(err)
	}
	tac, err := epurse.PurchaseTAC(p.Algorithm, ck.DTK, p.Amount, p.TermID, p.TermSeq, p.Time)
	if err != nil {
		t.Fatal(err)
	}
	return tac
}

// host is a LoadHost with the test keys (what the ledger does).
type host struct{ t *testing.T }

func (h host) AuthorizeLoad(_ context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	ck := cardKeys(h.t, a.CardSerial)
	sk, err := epurse.LoadSessionKey(a.Algorithm, ck.DLK, a.Random, a.OnlineCounter)
	if err != nil {
		return [4]byte{}, err
	}
	mac1, err := epurse.LoadMAC1(a.Algorithm, sk, a.BalanceBefore, a.Amount, a.TermID)
	if err != nil {
		return [4]byte{}, err
	}
	if !epurse.VerifyMAC(mac1, a.MAC1) {
		return [4]byte{}, epurse.ErrMACInvalid
	}
	return epurse.LoadMAC2(a.Algorithm, sk, a.Amount, a.TermID, a.Time)
}

func transceive(t *testing.T, card reader.Card, cmd reader.Command) ([]byte, reader.SW) {
	t.Helper()
	resp, err := reader.Exchange(context.Background(), card, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Data, resp.SW
}

func epurseDay() time.Time { return time.Date(2026, 10, 8, 0, 0, 0, 0, time.UTC) }

// testMasterKeys are the issuer master keys of the demo cards.
func testMasterKeys() epurse.Keys { return sam.TestKeys().Keys[1] }
