package epurse_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// These tests resolve torn purchases and loads against the strict virtual
// card of reader/sim: it keeps the proof of its last transaction only and a
// cyclic log of ten records, so a sale torn at terminal A whose card then
// paid at terminal B is settled from the log, or left to the ledger when
// the log no longer reaches back.

var (
	termB    = [6]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0xB2}
	kioskID  = [6]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0xC3}
	kioskID2 = [6]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0xC4}
)

// simCard makes a virtual card a reader.Card (the card in a reader's
// field, without the reader).
type simCard struct{ c *sim.Card }

func (s simCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return s.c.Respond(cmd) }

// world is one card and the terminals it meets.
type world struct {
	t    *testing.T
	ctx  context.Context
	card *sim.Card
	pub  epurse.PublicData
	a, b *sam.Software // POS A and POS B
}

func newWorld(t *testing.T, mod func(*sim.Profile)) *world {
	t.Helper()
	d := sim.Catalogue()[0] // the student card, 100.00 yuan
	if mod != nil {
		mod(&d.Profile)
	}
	card, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	kb := sam.TestKeys()
	kb.TerminalID = termB
	a, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	b, err := sam.NewSoftware(kb)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: context.Background(), card: card, pub: d.Profile.PublicData(), a: a, b: b}
}

// tap presents the card afresh (power-up) and selects the e-purse.
func (w *world) tap() reader.Card {
	w.t.Helper()
	w.card.Reset()
	c := simCard{w.card}
	if _, err := epurse.Select(w.ctx, c, epurse.AIDKingstar); err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) req(amount uint32, at time.Duration) epurse.PurchaseRequest {
	return epurse.PurchaseRequest{Amount: amount, Time: epurse.NewDateTime(time.Date(2026, 10, 8, 11, 45, 30, 0, time.UTC).Add(at)), CardSerial: w.pub.Factor()}
}

// tornAt sells amount at POS A with the card torn before or after DEBIT.
func (w *world) tornAt(kind sim.FaultKind, amount uint32) epurse.Pending {
	w.t.Helper()
	if err := w.card.Arm(sim.Fault{Kind: kind, INS: sim.InsDebitForPurchase}); err != nil {
		w.t.Fatal(err)
	}
	out := epurse.Pay(w.ctx, w.tap(), w.a, w.req(amount, 0), nil)
	if out.Kind != epurse.Uncertain {
		w.t.Fatalf("torn sale: %v %v", out.Kind, out.Err)
	}
	return out.Pending
}

// payAtB sells n meals at POS B, a minute apart.
func (w *world) payAtB(n int, amount uint32) {
	w.t.Helper()
	for i := range n {
		out := epurse.Pay(w.ctx, w.tap(), w.b, w.req(amount, time.Duration(i+1)*time.Minute), nil)
		if out.Kind != epurse.Done {
			w.t.Fatalf("sale %d at B: %v %v", i+1, out.Kind, out.Err)
		}
	}
}

// loadAt loads amount at a kiosk (the holder's PIN verified first).
func (w *world) loadAt(term [6]byte, amount uint32, at time.Duration) epurse.LoadOutcome {
	w.t.Helper()
	c := w.tap()
	if err := epurse.VerifyPIN(w.ctx, c, "123456"); err != nil {
		w.t.Fatal(err)
	}
	return epurse.Load(w.ctx, c, testHost{}, epurse.LoadRequest{Amount: amount, Time: epurse.NewDateTime(time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC).Add(at)), TermID: term, CardSerial: w.pub.Factor()})
}

// testHost authorises loads with the test keys (the ledger's part).
type testHost struct{}

func (testHost) AuthorizeLoad(_ context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	dlk, err := epurse.DiversifyKey(a.Algorithm, sam.TestKeys().Keys[a.KeyVersion].Load, a.CardSerial)
	if err != nil {
		return [4]byte{}, err
	}
	sk, err := epurse.LoadSessionKey(a.Algorithm, dlk, a.Random, a.OnlineCounter)
	if err != nil {
		return [4]byte{}, err
	}
	mac1, err := epurse.LoadMAC1(a.Algorithm, sk, a.BalanceBefore, a.Amount, a.TermID)
	if err != nil || !epurse.VerifyMAC(mac1, a.MAC1) {
		return [4]byte{}, epurse.ErrMACInvalid
	}
	return epurse.LoadMAC2(a.Algorithm, sk, a.Amount, a.TermID, a.Time)
}

func purchaseTAC(t *testing.T, p epurse.Pending) [4]byte {
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

// forgedLog answers READ RECORD of the log with every record's counter
// moved by shift: a card whose log disagrees with its counters.
type forgedLog struct {
	reader.Card
	shift uint16
}

func (f forgedLog) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := f.Card.Transmit(ctx, cmd)
	if err == nil && len(cmd) >= 2 && cmd[1] == 0xB2 && len(resp) == epurse.RecordLen+2 {
		binary.BigEndian.PutUint16(resp, binary.BigEndian.Uint16(resp)+f.shift)
	}
	return resp, err
}

func TestRecoverFromLog(t *testing.T) {
	const meal = 1250
	for _, tc := range []struct {
		name  string
		prof  func(*sim.Profile)
		torn  sim.FaultKind
		after func(w *world) // what the card did between the torn sale and its return to A
		wrap  func(reader.Card) reader.Card
		want  epurse.OutcomeKind
		// balance the card holds when it comes back
		balance uint32
	}{
		{name: "back at A at once: PROVE", torn: sim.TearAfter, want: epurse.Done, balance: 10000 - meal},
		{name: "never debited, back at A", torn: sim.TearBefore, want: epurse.Void, balance: 10000},
		{name: "debited, then paid at B once", torn: sim.TearAfter, after: func(w *world) { w.payAtB(1, 300) }, want: epurse.DoneByLog, balance: 10000 - meal - 300},
		{name: "debited, then paid at B twice", torn: sim.TearAfter, after: func(w *world) { w.payAtB(2, 300) }, want: epurse.DoneByLog, balance: 10000 - meal - 600},
		{name: "debited, then paid at B eleven times: the log rotated", torn: sim.TearAfter, after: func(w *world) { w.payAtB(11, 300) }, want: epurse.Uncertain, balance: 10000 - meal - 3300},
		{name: "debited, then paid at B nine times: the log still reaches back", torn: sim.TearAfter, after: func(w *world) { w.payAtB(9, 300) }, want: epurse.DoneByLog, balance: 10000 - meal - 2700},
		{name: "never debited, then paid at B once: B's purchase", torn: sim.TearBefore, after: func(w *world) { w.payAtB(1, meal) }, want: epurse.Void, balance: 10000 - meal},
		{name: "never debited, then paid at B twice", torn: sim.TearBefore, after: func(w *world) { w.payAtB(2, meal) }, want: epurse.Void, balance: 10000 - 2*meal},
		{name: "debited, then a load: the proof is gone", torn: sim.TearAfter, after: func(w *world) { w.loadAt(kioskID, 5000, 0) }, want: epurse.DoneByLog, balance: 10000 - meal + 5000},
		{name: "debited, then a load and B", torn: sim.TearAfter, after: func(w *world) { w.loadAt(kioskID, 5000, 0); w.payAtB(1, 300) }, want: epurse.DoneByLog, balance: 10000 - meal + 5000 - 300},
		{name: "never debited, then a load: balance moved, counter not", torn: sim.TearBefore, after: func(w *world) { w.loadAt(kioskID, 5000, 0) }, want: epurse.Uncertain, balance: 15000},
		{name: "card logs the counter after: paid at B twice", prof: func(p *sim.Profile) { p.LogCounterAfter = true }, torn: sim.TearAfter, after: func(w *world) { w.payAtB(2, 300) }, want: epurse.DoneByLog, balance: 10000 - meal - 600},
		{name: "card logs the counter after: B's purchase", prof: func(p *sim.Profile) { p.LogCounterAfter = true }, torn: sim.TearBefore, after: func(w *world) { w.payAtB(1, meal) }, want: epurse.Void, balance: 10000 - meal},
		{name: "log disagrees with the counter", torn: sim.TearAfter, after: func(w *world) { w.payAtB(1, 300) }, wrap: func(c reader.Card) reader.Card { return forgedLog{c, 5} }, want: epurse.Uncertain, balance: 10000 - meal - 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.prof)
			p := w.tornAt(tc.torn, meal)
			if tc.after != nil {
				tc.after(w)
			}
			if st := w.card.Status(); st.Balance != tc.balance {
				t.Fatalf("card balance %d, want %d", st.Balance, tc.balance)
			}
			c := w.tap()
			if tc.wrap != nil {
				c = tc.wrap(c)
			}
			rec := epurse.Recover(w.ctx, c, p)
			if rec.Kind != tc.want {
				t.Fatalf("recover: %v (%v), want %v", rec.Kind, rec.Err, tc.want)
			}
			switch rec.Kind {
			case epurse.Done:
				if rec.TAC != purchaseTAC(t, p) || rec.BalanceAfter != tc.balance || rec.Err != nil {
					t.Fatalf("done: TAC %X (want %X) balance %d err %v", rec.TAC, purchaseTAC(t, p), rec.BalanceAfter, rec.Err)
				}
			case epurse.DoneByLog:
				if rec.TAC != ([4]byte{}) || rec.MAC2 != ([4]byte{}) {
					t.Fatalf("done by log carries TAC %X MAC2 %X", rec.TAC, rec.MAC2)
				}
				if rec.BalanceAfter != p.BalanceBefore-meal || rec.Err != nil {
					t.Fatalf("done by log: balance after our debit %d, want %d; err %v", rec.BalanceAfter, p.BalanceBefore-meal, rec.Err)
				}
				lr := rec.LogRecord
				if lr.Type != epurse.TxPurchase || lr.Amount != meal || lr.TermID != p.TermID || lr.Time != p.Time ||
					(lr.Counter != p.OfflineCounter && lr.Counter != p.OfflineCounter+1) {
					t.Fatalf("log record %+v is not the torn sale %+v", lr, p)
				}
			case epurse.Void:
				if rec.Err != nil {
					t.Fatalf("void with %v", rec.Err)
				}
			case epurse.Uncertain:
				if rec.Err == nil {
					t.Fatal("uncertain without a reason")
				}
			}
			// Recovery changes nothing on the card, and says the same again.
			if st := w.card.Status(); st.Balance != tc.balance {
				t.Fatalf("recovery moved the balance to %d", st.Balance)
			}
			if again := epurse.Recover(w.ctx, w.tap(), p); tc.wrap == nil && again.Kind != rec.Kind {
				t.Fatalf("second recovery: %v, first %v", again.Kind, rec.Kind)
			}
		})
	}
}

func TestRecoverWrongCard(t *testing.T) {
	w := newWorld(t, nil)
	p := w.tornAt(sim.TearAfter, 100)
	p.CardSerial[7] ^= 1
	if rec := epurse.Recover(w.ctx, w.tap(), p); rec.Kind != epurse.Uncertain || !errors.Is(rec.Err, epurse.ErrWrongCard) {
		t.Fatalf("recover on another card: %v %v", rec.Kind, rec.Err)
	}
}

// tornLoad loads amount at the first kiosk with the card torn before or
// after CREDIT FOR LOAD.
func (w *world) tornLoad(kind sim.FaultKind, amount uint32) epurse.LoadAuthorization {
	w.t.Helper()
	if err := w.card.Arm(sim.Fault{Kind: kind, INS: sim.InsCreditForLoad}); err != nil {
		w.t.Fatal(err)
	}
	out := w.loadAt(kioskID, amount, 0)
	if out.Kind != epurse.Uncertain {
		w.t.Fatalf("torn load: %v %v", out.Kind, out.Err)
	}
	return out.Auth
}

func TestRecoverLoadFromLog(t *testing.T) {
	const amount = 2000
	for _, tc := range []struct {
		name    string
		torn    sim.FaultKind
		after   func(w *world)
		want    epurse.OutcomeKind
		balance uint32
	}{
		{name: "back at once: PROVE", torn: sim.TearAfter, want: epurse.Done, balance: 10000 + amount},
		{name: "never credited", torn: sim.TearBefore, want: epurse.Void, balance: 10000},
		{name: "credited, then a purchase: the proof is gone", torn: sim.TearAfter, after: func(w *world) { w.payAtB(1, 300) }, want: epurse.DoneByLog, balance: 10000 + amount - 300},
		{name: "credited, then a load at another kiosk", torn: sim.TearAfter, after: func(w *world) { w.loadAt(kioskID2, 700, time.Minute) }, want: epurse.DoneByLog, balance: 10000 + amount + 700},
		{name: "never credited, then a load at another kiosk", torn: sim.TearBefore, after: func(w *world) { w.loadAt(kioskID2, amount, time.Minute) }, want: epurse.Void, balance: 10000 + amount},
		{name: "credited, then ten purchases: the log rotated", torn: sim.TearAfter, after: func(w *world) { w.payAtB(10, 100) }, want: epurse.Uncertain, balance: 10000 + amount - 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil)
			auth := w.tornLoad(tc.torn, amount)
			if tc.after != nil {
				tc.after(w)
			}
			if st := w.card.Status(); st.Balance != tc.balance {
				t.Fatalf("card balance %d, want %d", st.Balance, tc.balance)
			}
			c := w.tap()
			if err := epurse.VerifyPIN(w.ctx, c, "123456"); err != nil {
				t.Fatal(err)
			}
			rec := epurse.RecoverLoad(w.ctx, c, auth, 0, nil)
			if rec.Kind != tc.want {
				t.Fatalf("recover load: %v (%v), want %v", rec.Kind, rec.Err, tc.want)
			}
			ck, err := sam.TestKeys().Keys[1].ForCard(epurse.AlgDES, w.pub.Factor())
			if err != nil {
				t.Fatal(err)
			}
			wantTAC, _ := epurse.LoadTAC(epurse.AlgDES, ck.DTK, auth.BalanceBefore+amount, auth.OnlineCounter, amount, kioskID, auth.Time)
			switch rec.Kind {
			case epurse.Done:
				if rec.TAC != wantTAC || rec.BalanceAfter != tc.balance {
					t.Fatalf("done: TAC %X want %X, balance %d", rec.TAC, wantTAC, rec.BalanceAfter)
				}
			case epurse.DoneByLog:
				lr := rec.LogRecord
				if rec.TAC != ([4]byte{}) || rec.BalanceAfter != auth.BalanceBefore+amount || lr.Type != epurse.TxLoad ||
					lr.Amount != amount || lr.TermID != kioskID || lr.Time != auth.Time {
					t.Fatalf("done by log: TAC %X balance %d record %+v", rec.TAC, rec.BalanceAfter, lr)
				}
			case epurse.Uncertain:
				if rec.Err == nil {
					t.Fatal("uncertain without a reason")
				}
			}
		})
	}
}
