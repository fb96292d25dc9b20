package drivertest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// CardField is a reader driver under test with sim cards at hand, for the
// e-purse walk (Purchase).
type CardField struct {
	// Present puts card in the reader's field and returns the CardPresent
	// event the reader reports (it may check the event).
	Present func(card *sim.Card) reader.Event
	// Remove takes the card out and returns once the reader reported
	// CardRemoved.
	Remove func()
	// Removed waits for the CardRemoved event a tear caused.
	Removed func()
}

// Purchase walks the e-purse flows of reader/epurse through a reader
// driver, on the strict virtual card (the last transaction's proof only,
// a cyclic log, a verified PIN before a load, a phone's random UID):
//
//  1. a purchase at POS A (software SAM), MAC2 verified;
//  2. a purchase torn right after DEBIT, resolved after a new tap by
//     epurse.Recover with GET TRANSACTION PROVE (Done, with the TAC);
//  3. a purchase torn after DEBIT whose card then pays at POS B: back at
//     A the proof is gone and Recover settles it from the log (DoneByLog);
//  4. a load refused without a PIN (6982), then done with the system PIN
//     the SAM derives (VERIFY P2 01) and recovered after a torn CREDIT
//     with it;
//  5. a phone (HCE) presented twice: two random UIDs, one identity (file
//     0x15).
//
// The drivers only move APDUs, so each step's outcome is the virtual
// card's; a driver that loses, reorders or alters an APDU fails it.
func Purchase(t testing.TB, f CardField) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	card, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	a, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	kb := sam.TestKeys()
	kb.TerminalID = [6]byte{0, 0, 0, 0, 0, 0xB2}
	b, err := sam.NewSoftware(kb)
	if err != nil {
		t.Fatal(err)
	}
	at := func(min int) epurse.DateTime {
		return epurse.NewDateTime(time.Date(2026, 10, 8, 11, 45+min, 30, 0, time.UTC))
	}

	tap := func(c *sim.Card) (reader.Event, epurse.PublicData) {
		t.Helper()
		ev := f.Present(c)
		if _, err := epurse.Select(ctx, ev.Card, epurse.AIDKingstar); err != nil {
			t.Fatalf("select: %v", err)
		}
		pub, err := epurse.ReadPublicData(ctx, ev.Card)
		if err != nil {
			t.Fatalf("public data: %v", err)
		}
		return ev, pub
	}
	pay := func(c reader.Card, s epurse.SAM, pub epurse.PublicData, amount uint32, min int) epurse.PurchaseOutcome {
		return epurse.Pay(ctx, c, s, epurse.PurchaseRequest{Amount: amount, Time: at(min), CardSerial: pub.Factor()}, nil)
	}
	tornAtA := func(c reader.Card, pub epurse.PublicData, amount uint32, min int) epurse.PurchaseOutcome {
		t.Helper()
		if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase, Nth: 1}); err != nil {
			t.Fatal(err)
		}
		out := pay(c, a, pub, amount, min)
		if out.Kind != epurse.Uncertain || !errors.Is(out.Err, reader.ErrCardRemoved) {
			t.Fatalf("torn purchase: %v %v, want Uncertain with ErrCardRemoved", out.Kind, out.Err)
		}
		f.Removed()
		return out
	}

	// 1. A purchase.
	ev, pub := tap(card)
	if pub.CardNumber() != sim.DemoStudentNo {
		t.Fatalf("card number %q", pub.CardNumber())
	}
	before := card.Status().Balance
	out := pay(ev.Card, a, pub, 1250, 0)
	if out.Kind != epurse.Done || !out.MAC2Verified || out.Err != nil {
		t.Fatalf("purchase: %v %v", out.Kind, out.Err)
	}
	bal := before - 1250
	if got := card.Status().Balance; got != bal || out.BalanceAfter != got {
		t.Fatalf("balance %d (outcome %d), want %d", got, out.BalanceAfter, bal)
	}

	// 2. Torn right after the card executed DEBIT: recovered by PROVE.
	out = tornAtA(ev.Card, pub, 300, 1)
	bal -= 300
	if got := card.Status().Balance; got != bal {
		t.Fatalf("card balance %d: the debit should have happened", got)
	}
	ev, _ = tap(card)
	rec := epurse.Recover(ctx, ev.Card, out.Pending)
	if rec.Kind != epurse.Done || rec.BalanceAfter != bal || rec.TAC == ([4]byte{}) {
		t.Fatalf("recover: %v %v balance %d TAC %X", rec.Kind, rec.Err, rec.BalanceAfter, rec.TAC)
	}

	// 3. Torn at A, then a sale at B: the proof is B's now; the log
	// proves A's debit.
	out = tornAtA(ev.Card, pub, 450, 2)
	ev, _ = tap(card)
	if o := pay(ev.Card, b, pub, 200, 3); o.Kind != epurse.Done {
		t.Fatalf("sale at B: %v %v", o.Kind, o.Err)
	}
	bal -= 450 + 200
	f.Remove()
	ev, _ = tap(card)
	rec = epurse.Recover(ctx, ev.Card, out.Pending)
	if rec.Kind != epurse.DoneByLog || rec.LogRecord.TermID != out.Pending.TermID || rec.LogRecord.Amount != 450 {
		t.Fatalf("recover after B: %v %v, log record %+v", rec.Kind, rec.Err, rec.LogRecord)
	}
	if got := card.Status().Balance; got != bal {
		t.Fatalf("card balance %d, want %d", got, bal)
	}

	// 4. Loads need a PIN: refused without, done with the system PIN.
	loadReq := epurse.LoadRequest{Amount: 2000, Time: at(4), TermID: [6]byte{0, 0, 0, 0, 0, 0xC3}, CardSerial: pub.Factor()}
	lo := epurse.Load(ctx, ev.Card, loadHost{}, loadReq)
	var se *reader.StatusError
	if lo.Kind != epurse.Refused || !errors.As(lo.Err, &se) || se.SW != reader.SWSecurityNotSatisfied {
		t.Fatalf("load without a PIN: %v %v, want Refused 6982", lo.Kind, lo.Err)
	}
	loadReq.PIN = a
	if lo = epurse.Load(ctx, ev.Card, loadHost{}, loadReq); lo.Kind != epurse.Done || lo.BalanceAfter != bal+2000 {
		t.Fatalf("load with the system PIN: %v %v", lo.Kind, lo.Err)
	}
	bal += 2000
	if err := card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsCreditForLoad, Nth: 1}); err != nil {
		t.Fatal(err)
	}
	loadReq.Time = at(5)
	if lo = epurse.Load(ctx, ev.Card, loadHost{}, loadReq); lo.Kind != epurse.Uncertain {
		t.Fatalf("torn load: %v %v", lo.Kind, lo.Err)
	}
	f.Removed()
	bal += 2000
	ev, _ = tap(card)
	if rl := epurse.RecoverLoad(ctx, ev.Card, lo.Auth, 0, a); rl.Kind != epurse.Done || rl.BalanceAfter != bal {
		t.Fatalf("recover load: %v %v balance %d", rl.Kind, rl.Err, rl.BalanceAfter)
	}
	if st := card.Status(); st.Balance != bal || st.OnlineCounter != 2 || st.SystemPINTries != 15 {
		t.Fatalf("card after the loads: %+v", st)
	}
	f.Remove()

	// 5. A phone: a new random UID at each presentation, one identity.
	d := sim.Catalogue()[0]
	d.Profile.Kind = sim.KindPhone
	phone, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	var uids [][]byte
	for range 2 {
		ev, pub := tap(phone)
		if pub.CardNumber() != sim.DemoStudentNo {
			t.Fatalf("phone's card number %q", pub.CardNumber())
		}
		if len(ev.UID) != 4 || ev.UID[0] != 0x08 {
			t.Fatalf("phone's UID % X, want a random UID 08xxxxxx", ev.UID)
		}
		uids = append(uids, ev.UID)
		f.Remove()
	}
	if bytes.Equal(uids[0], uids[1]) {
		t.Fatalf("the phone presented UID % X twice", uids[0])
	}
}

// loadHost authorises loads with the test keys, as the ledger does.
type loadHost struct{}

func (loadHost) AuthorizeLoad(_ context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	mk, ok := sam.TestKeys().Keys[a.KeyVersion]
	if !ok {
		return [4]byte{}, sam.ErrUnknownKeyVersion
	}
	dlk, err := epurse.DiversifyKey(a.Algorithm, mk.Load, a.CardSerial)
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
