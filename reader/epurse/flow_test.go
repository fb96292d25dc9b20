package epurse

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
)

var testTime = NewDateTime(time.Date(2025, 3, 14, 11, 45, 30, 0, time.UTC))

func fake(c *testCard) *readertest.Card { return &readertest.Card{Handler: c.handle} }

// verified presents the holder's PIN to tc, as a kiosk does before a load.
func verified(t *testing.T, tc *testCard) {
	t.Helper()
	if err := VerifyPIN(context.Background(), fake(tc), "123456"); err != nil {
		t.Fatal(err)
	}
}

func purchaseReq(c *testCard, amount uint32) PurchaseRequest {
	return PurchaseRequest{Amount: amount, Time: testTime, CardSerial: c.pub.Factor()}
}

func TestPurchaseRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{AlgDES, AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			ctx := context.Background()
			tc := newTestCard(alg, 0x42, 10000)
			card := fake(tc)
			if _, err := Select(ctx, card, AIDCityCard); err != nil {
				t.Fatal(err)
			}
			pub, err := ReadPublicData(ctx, card)
			if err != nil {
				t.Fatal(err)
			}
			if pub != tc.pub || pub.CardNumber() != "00002024090100000042" || !pub.ValidOn(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("public data = %+v", pub)
			}
			sam := newSoftSAM()
			var intent Pending
			out := Pay(ctx, card, sam, purchaseReq(tc, 1250), func(p Pending) error { intent = p; return nil })
			if out.Kind != Done || out.Err != nil || !out.MAC2Verified {
				t.Fatalf("outcome %v: %v", out.Kind, out.Err)
			}
			if out.BalanceAfter != 8750 || tc.balance != 8750 || out.Pending != intent {
				t.Fatalf("balance %d card %d", out.BalanceAfter, tc.balance)
			}
			wantTAC, _ := PurchaseTAC(alg, tc.keys.DTK, 1250, testTermID, intent.TermSeq, testTime)
			if out.TAC != wantTAC {
				t.Errorf("TAC %X, want %X", out.TAC, wantTAC)
			}
			bal, err := GetBalance(ctx, card)
			if err != nil || bal != 8750 {
				t.Errorf("GetBalance = %d, %v", bal, err)
			}
			recs, err := ReadLog(ctx, card, 0)
			if err != nil || len(recs) != 1 || recs[0].Amount != 1250 || recs[0].Type != TxPurchase {
				t.Errorf("ReadLog = %+v, %v", recs, err)
			}
		})
	}
}

func TestPurchaseSAMRejectsMAC2(t *testing.T) {
	tc := newTestCard(AlgDES, 1, 500)
	sam := newSoftSAM()
	sam.failMAC2 = true
	out := Pay(context.Background(), fake(tc), sam, purchaseReq(tc, 100), nil)
	if out.Kind != Done || !errors.Is(out.Err, ErrMACInvalid) || out.MAC2Verified {
		t.Fatalf("outcome %v %v", out.Kind, out.Err)
	}
}

func TestPurchaseRefused(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 1, 500)
	if _, err := PreparePurchase(ctx, fake(tc), newSoftSAM(), purchaseReq(tc, 501)); !errors.Is(err, ErrInsufficientBalance) {
		t.Fatalf("card 9401: %v", err)
	}
	tc.overdraft = 100 // card allows, terminal checks balance + overdraft
	if _, err := PreparePurchase(ctx, fake(tc), newSoftSAM(), purchaseReq(tc, 501)); err != nil {
		t.Fatalf("within overdraft: %v", err)
	}
	if _, err := PreparePurchase(ctx, fake(tc), newSoftSAM(), purchaseReq(tc, 0)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("zero: %v", err)
	}
	// Intent failure: nothing sent after it.
	card := fake(tc)
	out := Pay(ctx, card, newSoftSAM(), purchaseReq(tc, 10), func(Pending) error { return errors.New("disk full") })
	if out.Kind != Refused || tc.balance != 500 {
		t.Fatalf("intent failure: %v, balance %d", out.Kind, tc.balance)
	}
	// The card refuses a wrong MAC1.
	p, err := PreparePurchase(ctx, card, newSoftSAM(), purchaseReq(tc, 10))
	if err != nil {
		t.Fatal(err)
	}
	p.Pending.MAC1[0] ^= 1
	if out := p.Debit(ctx, card); out.Kind != Refused || !errors.Is(out.Err, ErrMACInvalid) {
		t.Fatalf("bad MAC1: %v %v", out.Kind, out.Err)
	}
}

// debitIndex is the 1-based APDU number of DEBIT in PreparePurchase+Debit
// (INITIALIZE, DEBIT: the SAM is not on the card).
const debitIndex = 2

func TestPurchaseTornAfterDebitRecovers(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 7, 1000)
	card := &readertest.Card{Handler: tc.handle, TearAt: debitIndex}
	sam := newSoftSAM()
	out := Pay(ctx, card, sam, purchaseReq(tc, 300), nil)
	if out.Kind != Uncertain || !errors.Is(out.Err, reader.ErrCardRemoved) {
		t.Fatalf("torn: %v %v", out.Kind, out.Err)
	}
	if tc.balance != 700 {
		t.Fatalf("the torn DEBIT should have reached the card: balance %d", tc.balance)
	}
	// The card comes back.
	again := fake(tc)
	rec := Recover(ctx, again, out.Pending)
	if rec.Kind != Done || rec.Err != nil || rec.BalanceAfter != 700 {
		t.Fatalf("recover: %v %v", rec.Kind, rec.Err)
	}
	wantTAC, _ := PurchaseTAC(AlgDES, tc.keys.DTK, 300, testTermID, out.Pending.TermSeq, testTime)
	sk, _ := PurchaseSessionKey(AlgDES, tc.keys.DPK, firstRandom(), out.Pending.OfflineCounter, out.Pending.TermSeq)
	wantMAC2, _ := PurchaseMAC2(AlgDES, sk, 300)
	if rec.TAC != wantTAC || rec.MAC2 != wantMAC2 {
		t.Errorf("proof TAC %X MAC2 %X, want %X %X", rec.TAC, rec.MAC2, wantTAC, wantMAC2)
	}
	// Recovering twice is harmless: the counter stays advanced by one.
	if rec2 := Recover(ctx, fake(tc), out.Pending); rec2.Kind != Done || tc.balance != 700 {
		t.Fatalf("second recover: %v, balance %d", rec2.Kind, tc.balance)
	}
}

func TestPurchaseRemovedBeforeDebitVoids(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgSM4, 8, 1000)
	card := &readertest.Card{Handler: tc.handle, RemoveAfter: debitIndex - 1}
	out := Pay(ctx, card, newSoftSAM(), purchaseReq(tc, 300), nil)
	if out.Kind != Uncertain {
		t.Fatalf("removed: %v %v", out.Kind, out.Err)
	}
	rec := Recover(ctx, fake(tc), out.Pending)
	if rec.Kind != Void || tc.balance != 1000 {
		t.Fatalf("recover: %v %v balance %d", rec.Kind, rec.Err, tc.balance)
	}
}

func TestRecoverUnresolvable(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 9, 1000)
	card := &readertest.Card{Handler: tc.handle, TearAt: debitIndex}
	out := Pay(ctx, card, newSoftSAM(), purchaseReq(tc, 100), nil)
	// Used at another terminal before coming back.
	if o := Pay(ctx, fake(tc), newSoftSAM(), purchaseReq(tc, 100), nil); o.Kind != Done {
		t.Fatal(o.Err)
	}
	if rec := Recover(ctx, fake(tc), out.Pending); rec.Kind != DoneByLog || rec.LogRecord.Counter != 0 {
		t.Fatalf("counter +2, our debit in the log: %v %v", rec.Kind, rec.Err)
	}
	tc.log = nil // the log no longer holds it
	if rec := Recover(ctx, fake(tc), out.Pending); rec.Kind != Uncertain || rec.Err == nil {
		t.Fatalf("counter +2, log rotated: %v %v", rec.Kind, rec.Err)
	}
	other := newTestCard(AlgDES, 10, 1000)
	if rec := Recover(ctx, fake(other), out.Pending); rec.Kind != Uncertain || !errors.Is(rec.Err, ErrWrongCard) {
		t.Fatalf("wrong card: %v %v", rec.Kind, rec.Err)
	}
	if rec := Recover(ctx, readertest.NewCard(), out.Pending); rec.Kind != Uncertain || rec.Err == nil {
		t.Fatalf("no answer: %v %v", rec.Kind, rec.Err)
	}
}

func TestDebitClassification(t *testing.T) {
	ctx := context.Background()
	p := &Purchase{sam: newSoftSAM(), Pending: Pending{TermSeq: 1, Amount: 5, BalanceBefore: 10}}
	tests := []struct {
		name string
		step readertest.Step
		want OutcomeKind
		is   error
	}{
		{"ok", readertest.Step{Resp: "11223344 55667788 9000"}, Done, nil},
		{"insufficient", readertest.Step{Resp: "9401"}, Refused, ErrInsufficientBalance},
		{"mac1 wrong", readertest.Step{Resp: "9302"}, Refused, ErrMACInvalid},
		{"locked", readertest.Step{Resp: "9303"}, Refused, ErrLocked},
		{"unknown sw", readertest.Step{Resp: "6F00"}, Uncertain, nil},
		{"removed", readertest.Step{Err: reader.ErrCardRemoved}, Uncertain, reader.ErrCardRemoved},
		{"timeout", readertest.Step{Err: reader.ErrTimeout}, Uncertain, reader.ErrTimeout},
		{"transport", readertest.Step{Err: reader.ErrTransport}, Uncertain, reader.ErrTransport},
		{"short", readertest.Step{Resp: "112233 9000"}, Uncertain, reader.ErrMalformed},
		{"long", readertest.Step{Resp: "112233445566778899 9000"}, Uncertain, reader.ErrMalformed},
		{"no sw", readertest.Step{Resp: "90"}, Uncertain, reader.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := p.Debit(ctx, readertest.NewCard(tt.step))
			if out.Kind != tt.want {
				t.Fatalf("kind %v, want %v (%v)", out.Kind, tt.want, out.Err)
			}
			if tt.is != nil && !errors.Is(out.Err, tt.is) {
				t.Errorf("err %v, want %v", out.Err, tt.is)
			}
			if tt.want == Done && (out.TAC != [4]byte{0x11, 0x22, 0x33, 0x44} || out.MAC2 != [4]byte{0x55, 0x66, 0x77, 0x88}) {
				t.Errorf("TAC %X MAC2 %X", out.TAC, out.MAC2)
			}
		})
	}
}

func TestLoadRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{AlgDES, AlgSM4} {
		t.Run(alg.String(), func(t *testing.T) {
			ctx := context.Background()
			tc := newTestCard(alg, 3, 100)
			verified(t, tc)
			host := &softHost{keys: testMaster}
			req := LoadRequest{Amount: 5000, Time: testTime, TermID: testTermID, CardSerial: tc.pub.Factor()}
			out := Load(ctx, fake(tc), host, req)
			if out.Kind != Done || out.Err != nil || out.BalanceAfter != 5100 || tc.balance != 5100 {
				t.Fatalf("load: %v %v balance %d", out.Kind, out.Err, tc.balance)
			}
			want, _ := LoadTAC(alg, tc.keys.DTK, 5100, 0, 5000, testTermID, testTime)
			if out.TAC != want {
				t.Errorf("TAC %X want %X", out.TAC, want)
			}
			// Torn CREDIT, then recovery.
			card := &readertest.Card{Handler: tc.handle, TearAt: 2}
			out = Load(ctx, card, host, req)
			if out.Kind != Uncertain || tc.balance != 10100 {
				t.Fatalf("torn load: %v balance %d", out.Kind, tc.balance)
			}
			rec := RecoverLoad(ctx, fake(tc), out.Auth, 0, nil)
			if rec.Kind != Done || rec.BalanceAfter != 10100 {
				t.Fatalf("recover load: %v %v", rec.Kind, rec.Err)
			}
			want, _ = LoadTAC(alg, tc.keys.DTK, 10100, 1, 5000, testTermID, testTime)
			if rec.TAC != want {
				t.Errorf("recovered TAC %X want %X", rec.TAC, want)
			}
			// Removed before CREDIT: void.
			card = &readertest.Card{Handler: tc.handle, RemoveAfter: 1}
			out = Load(ctx, card, host, req)
			if out.Kind != Uncertain {
				t.Fatalf("removed: %v", out.Kind)
			}
			if rec := RecoverLoad(ctx, fake(tc), out.Auth, 0, nil); rec.Kind != Void || tc.balance != 10100 {
				t.Fatalf("recover removed: %v %v", rec.Kind, rec.Err)
			}
		})
	}
}

func TestLoadRefused(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 3, 100)
	verified(t, tc)
	req := LoadRequest{Amount: 5000, Time: testTime, TermID: testTermID, CardSerial: tc.pub.Factor()}
	if out := Load(ctx, fake(tc), &softHost{keys: testMaster, err: ErrMACInvalid}, req); out.Kind != Refused || !errors.Is(out.Err, ErrMACInvalid) {
		t.Fatalf("host refuses: %v %v", out.Kind, out.Err)
	}
	bad := testMaster
	bad.Load = testMaster.Purchase
	if out := Load(ctx, fake(tc), &softHost{keys: bad}, req); out.Kind != Refused || !errors.Is(out.Err, ErrMACInvalid) {
		t.Fatalf("wrong keys: %v %v", out.Kind, out.Err)
	}
	if out := Load(ctx, fake(tc), &softHost{keys: testMaster}, LoadRequest{}); out.Kind != Refused || !errors.Is(out.Err, ErrBadRequest) {
		t.Fatalf("zero: %v %v", out.Kind, out.Err)
	}
	if tc.balance != 100 {
		t.Fatalf("balance %d", tc.balance)
	}
}

func TestPIN(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 3, 100)
	card := fake(tc)
	if err := VerifyPIN(ctx, card, "123456"); err != nil {
		t.Fatal(err)
	}
	var pe *PINError
	if err := VerifyPIN(ctx, card, "000000"); !errors.As(err, &pe) || pe.Retries != 2 {
		t.Fatalf("wrong pin: %v", err)
	}
	_ = VerifyPIN(ctx, card, "000000")
	if err := VerifyPIN(ctx, card, "000000"); !errors.Is(err, ErrLocked) {
		t.Fatalf("blocked: %v", err)
	}
	var se *reader.StatusError
	if err := VerifyPIN(ctx, card, "123456"); !errors.As(err, &se) || se.SW != reader.SWAuthBlocked {
		t.Fatalf("still blocked: %v", err)
	}
	if err := VerifyPIN(ctx, card, "12a4"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad pin: %v", err)
	}
}

// firstRandom is the random the test card answers to its first
// INITIALIZE (it draws them in sequence).
func firstRandom() [4]byte { return [4]byte{0xA5, 0xA5, 0x00, 0x01} }

// TestRecoverVoidNeedsConsistentBalance: an unchanged offline counter voids
// the purchase only when the balance is the one the intent saw; a card whose
// balance moved anyway (a load elsewhere, or a card that took the money
// without counting) stays uncertain for the ledger to settle.
func TestRecoverVoidNeedsConsistentBalance(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 11, 1000)
	card := &readertest.Card{Handler: tc.handle, RemoveAfter: debitIndex - 1}
	out := Pay(ctx, card, newSoftSAM(), purchaseReq(tc, 300), nil)
	if out.Kind != Uncertain {
		t.Fatalf("removed: %v %v", out.Kind, out.Err)
	}
	for _, bal := range []uint32{700, 1500} {
		tc.balance = bal
		if rec := Recover(ctx, fake(tc), out.Pending); rec.Kind != Uncertain || rec.Err == nil {
			t.Fatalf("counter unchanged, balance %d (was 1000): %v %v", bal, rec.Kind, rec.Err)
		}
	}
	tc.balance = 1000
	if rec := Recover(ctx, fake(tc), out.Pending); rec.Kind != Void {
		t.Fatalf("counter and balance unchanged: %v %v", rec.Kind, rec.Err)
	}
}

func TestRecoverLoadVoidNeedsConsistentBalance(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 12, 100)
	verified(t, tc)
	req := LoadRequest{Amount: 5000, Time: testTime, TermID: testTermID, CardSerial: tc.pub.Factor()}
	card := &readertest.Card{Handler: tc.handle, RemoveAfter: 1}
	out := Load(ctx, card, &softHost{keys: testMaster}, req)
	if out.Kind != Uncertain {
		t.Fatalf("removed: %v %v", out.Kind, out.Err)
	}
	tc.balance = 5100
	if rec := RecoverLoad(ctx, fake(tc), out.Auth, 0, nil); rec.Kind != Uncertain || rec.Err == nil {
		t.Fatalf("online counter unchanged, balance moved: %v %v", rec.Kind, rec.Err)
	}
	tc.balance = 100
	if rec := RecoverLoad(ctx, fake(tc), out.Auth, 0, nil); rec.Kind != Void {
		t.Fatalf("counter and balance unchanged: %v %v", rec.Kind, rec.Err)
	}
}

// TestRequestTimeMustBeBCD: the date and time go into MAC1, the TAC, the
// card's log and the durable intent; a value that is not a BCD date-time is
// refused before anything is sent.
func TestRequestTimeMustBeBCD(t *testing.T) {
	ctx := context.Background()
	for _, dt := range []DateTime{
		{},                                   // unset
		{0x20, 0x25, 0x13, 0x01, 0, 0, 0},    // month 13
		{0x20, 0x25, 0x02, 0x30, 0, 0, 0},    // 30 February
		{0x20, 0x25, 0x03, 0x14, 0x24, 0, 0}, // hour 24
		{0x20, 0x2A, 0x03, 0x14, 0x11, 0, 0}, // not BCD
	} {
		tc := newTestCard(AlgDES, 13, 1000)
		sam := newSoftSAM()
		req := purchaseReq(tc, 100)
		req.Time = dt
		if _, err := PreparePurchase(ctx, fake(tc), sam, req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("purchase at %X: %v, want ErrBadRequest", dt[:], err)
		}
		if sam.seq != 0x100 || tc.rnd != 0 {
			t.Errorf("purchase at %X: the SAM or the card was used", dt[:])
		}
		lr := LoadRequest{Amount: 100, Time: dt, TermID: testTermID, CardSerial: tc.pub.Factor()}
		if out := Load(ctx, fake(tc), &softHost{keys: testMaster}, lr); out.Kind != Refused || !errors.Is(out.Err, ErrBadRequest) || tc.rnd != 0 {
			t.Errorf("load at %X: %v %v", dt[:], out.Kind, out.Err)
		}
	}
}

// TestRecoverDoneOnlyForOurDebit: the card's counter advanced by one, but
// by another terminal's purchase of the same amount (ours never reached
// the card). PROVE answers for that counter; it is not our debit.
func TestRecoverDoneOnlyForOurDebit(t *testing.T) {
	ctx := context.Background()
	tc := newTestCard(AlgDES, 14, 1000)
	card := &readertest.Card{Handler: tc.handle, RemoveAfter: debitIndex - 1}
	out := Pay(ctx, card, newSoftSAM(), purchaseReq(tc, 300), nil)
	if out.Kind != Uncertain || tc.balance != 1000 {
		t.Fatalf("removed before DEBIT: %v %v, balance %d", out.Kind, out.Err, tc.balance)
	}
	other := newSoftSAM()
	other.termID = [6]byte{0x00, 0x99, 0x99, 0x99, 0x99, 0x99}
	if o := Pay(ctx, fake(tc), other, purchaseReq(tc, 300), nil); o.Kind != Done {
		t.Fatalf("sale at the other terminal: %v %v", o.Kind, o.Err)
	}
	if rec := Recover(ctx, fake(tc), out.Pending); rec.Kind == Done {
		t.Fatalf("recover took the other terminal's debit (TAC %X) as ours", rec.TAC)
	}
}
