package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

func TestPurchaseRoundTrip(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	if pub.CardNumber() != sim.DemoStudentNo || pub.CardClass != sim.ClassStudent {
		t.Fatalf("public data %+v", pub)
	}
	out := r.pay(card, pub, 1250)
	if out.Kind != epurse.Done || !out.MAC2Verified || out.Err != nil {
		t.Fatalf("outcome %v err %v", out.Kind, out.Err)
	}
	if out.TAC != wantTAC(t, out.Pending) {
		t.Fatalf("TAC %X, ledger expects %X", out.TAC, wantTAC(t, out.Pending))
	}
	st := r.card.Status()
	if st.Balance != 10000-1250 || st.OfflineCounter != 1 || out.BalanceAfter != st.Balance {
		t.Fatalf("status %+v after %d", st, out.BalanceAfter)
	}
	bal, err := epurse.GetBalance(r.ctx, card)
	if err != nil || bal != 8750 {
		t.Fatalf("GET BALANCE %d %v", bal, err)
	}
	log, err := epurse.ReadLog(r.ctx, card, 0)
	if err != nil || len(log) != 1 || log[0].Amount != 1250 || log[0].Type != epurse.TxPurchase || log[0].Counter != 0 || log[0].TermID != out.Pending.TermID {
		t.Fatalf("log %+v %v", log, err)
	}
}

func TestLoadRoundTrip(t *testing.T) {
	r := newRig(t, "low")
	card, pub := r.tap()
	tid, _ := r.sam.TerminalID(r.ctx)
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); err != nil {
		t.Fatal(err)
	}
	out := epurse.Load(r.ctx, card, host{t}, epurse.LoadRequest{Amount: 2000, Time: testTime, TermID: tid, CardSerial: pub.Factor()})
	if out.Kind != epurse.Done || out.BalanceAfter != 2500 {
		t.Fatalf("load %v %v balance %d", out.Kind, out.Err, out.BalanceAfter)
	}
	ck := cardKeys(t, pub.Factor())
	tac, _ := epurse.LoadTAC(epurse.AlgDES, ck.DTK, 2500, 0, 2000, tid, testTime)
	if out.TAC != tac {
		t.Fatalf("load TAC %X want %X", out.TAC, tac)
	}
	if st := r.card.Status(); st.Balance != 2500 || st.OnlineCounter != 1 || st.OfflineCounter != 0 {
		t.Fatalf("status %+v", st)
	}
	// A load with a wrong MAC2 credits nothing (9302).
	if _, err := epurse.InitializeForLoad(r.ctx, card, 1, 100, tid); err != nil {
		t.Fatal(err)
	}
	if _, err := epurse.CreditForLoad(r.ctx, card, testTime, [4]byte{1, 2, 3, 4}); !errors.Is(err, epurse.ErrMACInvalid) {
		t.Fatalf("wrong load MAC2: %v", err)
	}
	if st := r.card.Status(); st.Balance != 2500 || st.OnlineCounter != 1 {
		t.Fatalf("status after wrong MAC2 %+v", st)
	}
	// RecoverLoad of the completed load finds it done.
	if rec := epurse.RecoverLoad(r.ctx, card, out.Auth, 0, nil); rec.Kind != epurse.Done || rec.TAC != tac {
		t.Fatalf("recover load %v %v", rec.Kind, rec.Err)
	}
}

func TestTearAfterDebitRecovered(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	if err := r.card.Arm(sim.Fault{Kind: sim.TearAfter, INS: sim.InsDebitForPurchase, Nth: 1}); err != nil {
		t.Fatal(err)
	}
	out := r.pay(card, pub, 300)
	if out.Kind != epurse.Uncertain || !errors.Is(out.Err, reader.ErrCardRemoved) {
		t.Fatalf("torn purchase: %v %v", out.Kind, out.Err)
	}
	if st := r.card.Status(); st.Balance != 9700 || st.OfflineCounter != 1 {
		t.Fatalf("the debit did not happen on the card: %+v", st)
	}
	// The old handle is dead.
	if _, err := card.Transmit(r.ctx, epurse.GetBalanceCommand().Bytes()); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("transmit after tear: %v", err)
	}
	card2, _ := r.tap()
	rec := epurse.Recover(r.ctx, card2, out.Pending)
	if rec.Kind != epurse.Done || rec.TAC != wantTAC(t, out.Pending) || rec.BalanceAfter != 9700 {
		t.Fatalf("recover: %v %v TAC %X", rec.Kind, rec.Err, rec.TAC)
	}
}

func TestTearBeforeDebitVoided(t *testing.T) {
	for _, f := range []sim.Fault{
		{Kind: sim.TearBefore, INS: sim.InsDebitForPurchase},
		{Kind: sim.TearBefore, INS: sim.InsAny, Nth: 2}, // removed between INITIALIZE and DEBIT
	} {
		t.Run(f.String(), func(t *testing.T) {
			r := newRig(t, "student")
			card, pub := r.tap()
			if err := r.card.Arm(f); err != nil {
				t.Fatal(err)
			}
			out := r.pay(card, pub, 300)
			if out.Kind != epurse.Uncertain {
				t.Fatalf("torn purchase: %v %v", out.Kind, out.Err)
			}
			if st := r.card.Status(); st.Balance != 10000 || st.OfflineCounter != 0 {
				t.Fatalf("card changed: %+v", st)
			}
			card2, _ := r.tap()
			if rec := epurse.Recover(r.ctx, card2, out.Pending); rec.Kind != epurse.Void {
				t.Fatalf("recover: %v %v", rec.Kind, rec.Err)
			}
		})
	}
}

func TestResponseFaultsUncertainThenDone(t *testing.T) {
	for _, f := range []sim.Fault{
		{Kind: sim.Garble, INS: sim.InsDebitForPurchase},
		{Kind: sim.Truncate, INS: sim.InsDebitForPurchase, Keep: 3},
	} {
		t.Run(string(f.Kind), func(t *testing.T) {
			r := newRig(t, "student")
			card, pub := r.tap()
			if err := r.card.Arm(f); err != nil {
				t.Fatal(err)
			}
			out := r.pay(card, pub, 450)
			if out.Kind != epurse.Uncertain {
				t.Fatalf("outcome %v %v", out.Kind, out.Err)
			}
			if _, err := epurse.Select(r.ctx, card, epurse.AIDKingstar); err != nil {
				t.Fatal(err)
			}
			if rec := epurse.Recover(r.ctx, card, out.Pending); rec.Kind != epurse.Done || rec.TAC != wantTAC(t, out.Pending) {
				t.Fatalf("recover %v %v", rec.Kind, rec.Err)
			}
		})
	}
}

func TestWrongMAC2Fault(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	if err := r.card.Arm(sim.Fault{Kind: sim.WrongMAC2, INS: sim.InsDebitForPurchase}); err != nil {
		t.Fatal(err)
	}
	out := r.pay(card, pub, 100)
	if out.Kind != epurse.Done || out.MAC2Verified || !errors.Is(out.Err, epurse.ErrMACInvalid) {
		t.Fatalf("outcome %v verified %v err %v", out.Kind, out.MAC2Verified, out.Err)
	}
	if out.TAC != wantTAC(t, out.Pending) {
		t.Fatal("TAC altered by the wrong-MAC2 fault")
	}
}

func TestWrongMAC1Refused(t *testing.T) {
	r := newRig(t, "student")
	card, pub := r.tap()
	p, err := epurse.PreparePurchase(r.ctx, card, r.sam, epurse.PurchaseRequest{Amount: 700, Time: testTime, CardSerial: pub.Factor()})
	if err != nil {
		t.Fatal(err)
	}
	p.Pending.MAC1[2] ^= 0x10
	out := p.Debit(r.ctx, card)
	var se *reader.StatusError
	if out.Kind != epurse.Refused || !errors.As(out.Err, &se) || se.SW != reader.SWMAC1Wrong {
		t.Fatalf("outcome %v %v", out.Kind, out.Err)
	}
	if st := r.card.Status(); st.Balance != 10000 || st.OfflineCounter != 0 || st.Records != 0 {
		t.Fatalf("card changed: %+v", st)
	}
	// The session is gone: a DEBIT with the right MAC1 now is refused too.
	p.Pending.MAC1[2] ^= 0x10
	if out := p.Debit(r.ctx, card); out.Kind != epurse.Refused {
		t.Fatalf("debit without session: %v", out.Kind)
	}
}

func TestInsufficientBalance(t *testing.T) {
	r := newRig(t, "low")
	card, pub := r.tap()
	out := r.pay(card, pub, 501)
	if out.Kind != epurse.Refused || !errors.Is(out.Err, epurse.ErrInsufficientBalance) {
		t.Fatalf("outcome %v %v", out.Kind, out.Err)
	}
	_, sw := transceive(t, card, epurse.InitPurchaseCommand(1, 501, [6]byte{}))
	if sw != reader.SWBalanceInsufficient {
		t.Fatalf("INITIALIZE 501 on 500: %v", sw)
	}
	if out := r.pay(card, pub, 500); out.Kind != epurse.Done || out.BalanceAfter != 0 {
		t.Fatalf("exact balance: %v %v", out.Kind, out.Err)
	}
}

func TestProveUnknownCounter(t *testing.T) {
	r := newRig(t, "student")
	card, _ := r.tap()
	if _, _, err := epurse.GetTransactionProve(r.ctx, card, epurse.TxPurchase, 1); !errors.Is(err, epurse.ErrNoProof) {
		t.Fatalf("prove of no transaction: %v", err)
	}
}

func TestPINLock(t *testing.T) {
	r := newRig(t, "student")
	card, _ := r.tap()
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); err != nil {
		t.Fatal(err)
	}
	for want := 2; want >= 0; want-- {
		err := epurse.VerifyPIN(r.ctx, card, "000000")
		var pe *epurse.PINError
		if !errors.As(err, &pe) || pe.Retries != want {
			t.Fatalf("wrong PIN: %v, want %d tries left", err, want)
		}
	}
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); !errors.Is(err, epurse.ErrLocked) {
		t.Fatalf("right PIN after lock: %v", err)
	}
	if err := epurse.ChangePIN(r.ctx, card, "123456", "654321"); !errors.Is(err, epurse.ErrLocked) {
		t.Fatalf("change PIN after lock: %v", err)
	}
	if st := r.card.Status(); st.PINTries != 0 {
		t.Fatalf("tries %d", st.PINTries)
	}
}

func TestChangePIN(t *testing.T) {
	r := newRig(t, "staff")
	card, _ := r.tap()
	if err := epurse.VerifyPIN(r.ctx, card, "000000"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	if err := epurse.ChangePIN(r.ctx, card, "123456", "13579"); err != nil {
		t.Fatal(err)
	}
	if st := r.card.Status(); st.PINTries != 3 {
		t.Fatalf("tries not reset: %d", st.PINTries)
	}
	if err := epurse.VerifyPIN(r.ctx, card, "13579"); err != nil {
		t.Fatal(err)
	}
	if err := epurse.VerifyPIN(r.ctx, card, "123456"); err == nil {
		t.Fatal("old PIN still accepted")
	}
}

func TestLatency(t *testing.T) {
	r := newRig(t, "student")
	card, _ := r.tap()
	if err := r.card.Arm(sim.Fault{Kind: sim.Latency, INS: sim.InsGetBalance, Repeat: true, Delay: 300e6}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := epurse.GetBalance(r.ctx, card); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.slept) != 2 || r.slept[0] != 300e6 {
		t.Fatalf("slept %v", r.slept)
	}
	// A context that expires during the delay: timeout, and the command
	// did execute.
	r.reader.Sleep = func(context.Context, time.Duration) error { return context.DeadlineExceeded }
	if err := r.card.Arm(sim.Fault{Kind: sim.Latency, INS: sim.InsVerify, Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := epurse.VerifyPIN(r.ctx, card, "000000"); !errors.Is(err, reader.ErrTimeout) {
		t.Fatalf("slow card: %v", err)
	}
	if st := r.card.Status(); st.PINTries != 2 {
		t.Fatalf("the slow VERIFY did not execute: %+v", st)
	}
}
