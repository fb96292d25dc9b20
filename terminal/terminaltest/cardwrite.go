package terminaltest

import (
	"context"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// testMACs computes the secure-messaging MACs of card writes with the test
// master keys (sam.TestKeys), the part the ledger's key service plays.
type testMACs struct{}

func (testMACs) cardKeys(ref epurse.CardRef) (epurse.CardKeys, error) {
	return sam.TestKeys().Keys[ref.KeyVersion].ForCard(ref.Algorithm, ref.Serial)
}

func (m testMACs) UpdateMAC(_ context.Context, ref epurse.CardRef, ch [4]byte, h [5]byte, data []byte) ([4]byte, error) {
	ck, err := m.cardKeys(ref)
	if err != nil {
		return [4]byte{}, err
	}
	return epurse.SecureMAC(ref.Algorithm, ck.DAMK, ch, h[:], data)
}

func (m testMACs) BlockMAC(_ context.Context, ref epurse.CardRef, ch [4]byte, h [5]byte) ([4]byte, error) {
	ck, err := m.cardKeys(ref)
	if err != nil {
		return [4]byte{}, err
	}
	return epurse.SecureMAC(ref.Algorithm, ck.DABK, ch, h[:])
}

// onCard taps card on a reader of its own, selects its e-purse
// application and runs f with the handle and the card's key reference,
// then removes the card.
func onCard(t testing.TB, card *sim.Card, f func(ctx context.Context, h reader.Card, ref epurse.CardRef)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rdr := sim.NewReader("sim:desk", reader.TechISO14443A)
	events := make(chan reader.Event, 4)
	go func() { _ = rdr.Run(ctx, events) }()
	rdr.Tap(card)
	defer rdr.Remove()
	var h reader.Card
	deadline := time.After(10 * time.Second)
	for h == nil {
		select {
		case e := <-events:
			if e.Kind == reader.CardPresent {
				h = e.Card
			}
		case <-deadline:
			t.Fatal("no CardPresent event")
		}
	}
	if _, err := epurse.Select(ctx, h, epurse.AIDKingstar); err != nil {
		t.Fatal(err)
	}
	pub, err := epurse.ReadPublicData(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := epurse.ReadCardRef(ctx, h, sam.TestKeys().TerminalID, pub.Factor())
	if err != nil {
		t.Fatal(err)
	}
	f(ctx, h, ref)
}

// WriteCard makes the card writes a kiosk or the service desk makes
// (调整限额, 解挂 ...: UPDATE BINARY under secure messaging with MACs from
// the test master keys) on the strict virtual card, and fails the test
// unless the card took each of them.
func WriteCard(t testing.TB, card *sim.Card, writes ...epurse.BinaryWrite) {
	t.Helper()
	onCard(t, card, func(ctx context.Context, h reader.Card, ref epurse.CardRef) {
		for _, w := range writes {
			if out := epurse.UpdateBinary(ctx, h, testMACs{}, ref, w); out.Kind != epurse.Done {
				t.Fatalf("card write %+v: %+v", w, out)
			}
		}
	})
}

// BlockCard blocks the card's e-purse application (APPLICATION BLOCK,
// temporarily: SELECT then answers 6A81) as a terminal locking a card does.
func BlockCard(t testing.TB, card *sim.Card) {
	t.Helper()
	onCard(t, card, func(ctx context.Context, h reader.Card, ref epurse.CardRef) {
		if out := epurse.BlockApplication(ctx, h, testMACs{}, ref, false); out.Kind != epurse.Done {
			t.Fatalf("application block: %+v", out)
		}
	})
}
