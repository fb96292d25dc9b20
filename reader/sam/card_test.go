package sam_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// slot puts a virtual PSAM in a virtual contact slot and returns its
// reader.Card.
func slot(t *testing.T, psam *sim.PSAMCard) (*sim.Reader, reader.Card, chan reader.Event) {
	t.Helper()
	r := sim.NewReader("sim:sam", reader.TechContact)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := make(chan reader.Event, 4)
	go func() { _ = r.Run(ctx, events) }()
	r.Tap(psam)
	e := <-events
	if e.Kind != reader.CardPresent || e.Tech != reader.TechContact {
		t.Fatalf("event %v", e)
	}
	return r, e.Card, events
}

func request(alg epurse.Algorithm) epurse.SAMPurchaseRequest {
	return epurse.SAMPurchaseRequest{
		Random: [4]byte{0xDE, 0xAD, 0xBE, 0xEF}, OfflineCounter: 41, Amount: 880, Type: epurse.TxPurchase,
		Time: epurse.NewDateTime(time.Date(2026, 11, 2, 7, 5, 9, 0, time.UTC)), KeyVersion: 1, Algorithm: alg,
		CardSerial: [8]byte{0x20, 0x26, 0x09, 0x01, 0x00, 0x00, 0x00, 0x07},
	}
}

// The PSAM in a slot gives the same terminal id, sequence and MAC1 as the
// software SAM for the same inputs, and both accept the same MAC2.
func TestCardSAMMatchesSoftware(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []epurse.Algorithm{epurse.AlgDES, epurse.AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			psam := sim.NewDemoPSAM()
			_, card, _ := slot(t, psam)
			cs := sam.NewCardSAM(card, nil)
			soft, err := sam.NewSoftware(sam.TestKeys())
			if err != nil {
				t.Fatal(err)
			}
			tid, err := cs.TerminalID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := soft.TerminalID(ctx); tid != want {
				t.Fatalf("terminal id %X, want %X", tid, want)
			}
			req := request(alg)
			seq1, mac1, err := cs.InitPurchase(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			seq2, mac2, err := soft.InitPurchase(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if seq1 != seq2 || mac1 != mac2 {
				t.Fatalf("card SAM seq %d MAC1 %X, software %d %X", seq1, mac1, seq2, mac2)
			}
			// The card's MAC2.
			ck, _ := sam.TestKeys().Keys[1].ForCard(alg, req.CardSerial)
			sk, _ := epurse.PurchaseSessionKey(alg, ck.DPK, req.Random, req.OfflineCounter, seq1)
			cardMAC2, _ := epurse.PurchaseMAC2(alg, sk, req.Amount)
			if err := cs.VerifyMAC2(ctx, cardMAC2); err != nil {
				t.Fatal(err)
			}
			if err := soft.VerifyMAC2(ctx, cardMAC2); err != nil {
				t.Fatal(err)
			}
			// A wrong MAC2: ErrMAC2 and the status word.
			if _, _, err := cs.InitPurchase(ctx, req); err != nil {
				t.Fatal(err)
			}
			err = cs.VerifyMAC2(ctx, [4]byte{1, 2, 3, 4})
			var se *reader.StatusError
			if !errors.Is(err, sam.ErrMAC2) || !errors.Is(err, epurse.ErrMACInvalid) || !errors.As(err, &se) || se.SW != reader.SWMAC1Wrong {
				t.Fatalf("wrong MAC2: %v", err)
			}
			if psam.Sequence() != 2 {
				t.Fatalf("PSAM sequence %d", psam.Sequence())
			}
		})
	}
}

func TestCardSAMErrors(t *testing.T) {
	ctx := context.Background()
	psam := sim.NewDemoPSAM()
	r, card, events := slot(t, psam)
	cs := sam.NewCardSAM(card, nil)

	// Unknown key version: the PSAM's status word comes back.
	req := request(epurse.AlgDES)
	req.KeyVersion = 7
	_, _, err := cs.InitPurchase(ctx, req)
	var se *reader.StatusError
	if !errors.As(err, &se) || se.SW != reader.SWRefDataNotFound {
		t.Fatalf("key version 7: %v", err)
	}
	// MAC2 without a session: conditions not satisfied.
	if err := cs.VerifyMAC2(ctx, [4]byte{}); !errors.As(err, &se) || se.SW != reader.SWConditionsNotMet || errors.Is(err, sam.ErrMAC2) {
		t.Fatalf("MAC2 without session: %v", err)
	}
	// Wrong application: SELECT fails with 6A82.
	if _, _, err := sam.NewCardSAM(card, []byte{0xDF, 0x99}).InitPurchase(ctx, request(epurse.AlgDES)); !errors.As(err, &se) || se.SW != reader.SWFileNotFound {
		t.Fatalf("wrong app: %v", err)
	}
	// The PSAM torn out: ErrCardRemoved; after re-insertion the card SAM
	// selects again by itself.
	if err := psam.Arm(sim.Fault{Kind: sim.TearBefore, INS: sim.InsInitSAMForPurchase}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cs.InitPurchase(ctx, request(epurse.AlgDES)); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("torn PSAM: %v", err)
	}
	r.Tap(psam)
	var newCard reader.Card
	for newCard == nil {
		if e := <-events; e.Kind == reader.CardPresent {
			newCard = e.Card
		}
	}
	cs2 := sam.NewCardSAM(newCard, nil)
	if _, _, err := cs2.InitPurchase(ctx, request(epurse.AlgDES)); err != nil {
		t.Fatalf("after re-insertion: %v", err)
	}
	// A truncated answer is malformed.
	if err := psam.Arm(sim.Fault{Kind: sim.Truncate, INS: sim.InsInitSAMForPurchase, Keep: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cs2.InitPurchase(ctx, request(epurse.AlgDES)); !errors.Is(err, reader.ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
}
