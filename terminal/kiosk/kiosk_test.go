package kiosk_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/terminal/kiosk"
)

// checkDone fails unless the ledger's load id is done with a TAC the
// ledger verified (not inferred) and nothing waits for the card.
func (r *rig) checkDone(id string, cardNo string) ledger.Load {
	r.t.Helper()
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		r.t.Fatalf("load id %q: %v", id, err)
	}
	ld, err := r.ledger.LoadByID(n)
	if err != nil || ld.State != ledger.LoadDone || ld.Inferred || len(ld.TAC) != 4 {
		r.t.Fatalf("load %s at the ledger: %+v, %v", id, ld, err)
	}
	if p, err := r.ledger.PendingLoads(cardNo); err != nil || len(p) != 0 {
		r.t.Fatalf("still waiting at the ledger: %+v, %v", p, err)
	}
	return ld
}

// TestClaimEndToEnd: two transfers wait at the real ledger; one tap loads
// both (merged into one credit), the ledger's load is done with the
// card's TAC, the journal holds one load record that matches it, no intent
// is left and the chain verifies.
func TestClaimEndToEnd(t *testing.T) {
	r := newRig(t)
	card := demoCard(t, "student", "", 5000)
	r.addLoad(card, 3000)
	r.addLoad(card, 2000)
	res := r.handle(card)
	if res.Outcome != kiosk.Loaded || res.Amount != 5000 || res.Balance != 10000 || res.Recovered || res.Code != kiosk.CodeLoaded {
		t.Fatalf("claim: %+v", res)
	}
	if balance(card) != 10000 {
		t.Fatalf("card balance %d, want 10000", balance(card))
	}
	if m, _ := r.ui.Last(); m.Code != kiosk.CodeLoaded || m.Amount != 5000 || m.Balance != 10000 || m.ZH != "圈存成功" {
		t.Fatalf("display %+v", m)
	}
	ld := r.checkDone(res.LoadID, card.Profile().CardNumber())
	recs := r.loadRecords()
	if len(recs) != 1 {
		t.Fatalf("%d load records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.Amount != 5000 || rec.BalanceBefore != 5000 || rec.BalanceAfter != 10000 || !bytes.Equal(rec.TAC, ld.TAC) ||
		!bytes.Equal(rec.TxTime, ld.TxTime) || rec.CardCounter != uint32(ld.OnlineCounter) {
		t.Fatalf("load record %+v, ledger %+v", rec, ld)
	}
	if verdict, reason := r.ledger.CheckLoadTAC(&rec); verdict != ledger.TACVerified {
		t.Fatalf("the ledger's verdict on the load record: %s %s", verdict, reason)
	}
	if ls := r.intents(); len(ls) != 0 {
		t.Fatalf("intents left: %+v", ls)
	}
	if _, err := r.store.Verify(); err != nil {
		t.Fatal(err)
	}
	// Nothing more to claim: the card is shown its balance, nothing moves.
	res = r.handle(card)
	if res.Outcome != kiosk.Nothing || res.Code != kiosk.CodeNothingPending || res.Balance != 10000 || balance(card) != 10000 {
		t.Fatalf("second tap: %+v", res)
	}
	if len(r.loadRecords()) != 1 {
		t.Fatal("a tap with nothing to claim journaled a load")
	}
}

// TestClaimLedgerUnreachable: with the link to the ledger down nothing is
// credited, the display says so in both languages, nothing is journaled
// and the money still waits at the ledger; once the link is back the
// claim works.
func TestClaimLedgerUnreachable(t *testing.T) {
	r := newRig(t)
	card := demoCard(t, "student", "", 5000)
	r.addLoad(card, 3000)
	r.down.Store(true)
	res := r.handle(card)
	if res.Outcome != kiosk.Refused || res.Code != kiosk.CodeLedgerOffline || balance(card) != 5000 {
		t.Fatalf("ledger down: %+v, balance %d", res, balance(card))
	}
	if m, _ := r.ui.Last(); m.ZH != "无法连接中心 未圈存 请稍后再试" || m.EN == "" || !m.HasBalance || m.Balance != 5000 {
		t.Fatalf("display %+v", m)
	}
	if len(r.loadRecords()) != 0 || len(r.intents()) != 0 {
		t.Fatal("a claim without the ledger left a record or an intent")
	}
	if p, _ := r.ledger.PendingLoads(card.Profile().CardNumber()); len(p) != 1 {
		t.Fatalf("pending at the ledger: %+v", p)
	}
	r.down.Store(false)
	if res := r.handle(card); res.Outcome != kiosk.Loaded || balance(card) != 8000 {
		t.Fatalf("link back: %+v, balance %d", res, balance(card))
	}
}

// TestClaimConfirmLater: the link drops after the ledger's MAC2, so the
// card is credited but the TAC cannot be confirmed: the customer sees the
// credit, the load record is journaled once, the intent waits as
// credited; after a restart with the link back, Startup confirms it.
func TestClaimConfirmLater(t *testing.T) {
	r := newRig(t)
	card := demoCard(t, "student", "", 5000)
	r.addLoad(card, 3000)
	cs := &linkCutStore{Store: r.store, cut: func() { r.down.Store(true) }}
	r.kiosk = r.newKiosk(cs)
	res := r.handle(card)
	if res.Outcome != kiosk.Loaded || balance(card) != 8000 {
		t.Fatalf("claim: %+v, balance %d", res, balance(card))
	}
	ls := r.intents()
	if len(ls) != 1 || ls[0].State != offline.LoadCredited {
		t.Fatalf("intents: %+v", ls)
	}
	r.down.Store(false)
	r.reopen()
	if ls := r.intents(); len(ls) != 0 {
		t.Fatalf("intents after the restart: %+v", ls)
	}
	r.checkDone(res.LoadID, card.Profile().CardNumber())
	if n := len(r.loadRecords()); n != 1 {
		t.Fatalf("%d load records, want 1", n)
	}
}

// linkCutStore cuts the ledger's link right after a load intent is opened.
type linkCutStore struct {
	*offline.Store
	cut func()
}

func (s *linkCutStore) AuthorizeLoad(id uint64, loadID string, mac2 []byte) (offline.Load, error) {
	l, err := s.Store.AuthorizeLoad(id, loadID, mac2)
	s.cut()
	return l, err
}

// TestClaimPurseLimit: the total would pass the purse limit: only the
// load that fits is claimed; when none fits nothing is asked of the card
// and the display says why, with the balance.
func TestClaimPurseLimit(t *testing.T) {
	r := newRig(t)
	r.cfg.MaxBalanceFen = 10000
	r.kiosk = r.newKiosk(r.store)
	card := demoCard(t, "student", "", 5000)
	r.addLoad(card, 6000)
	small := r.addLoad(card, 4000)
	res := r.handle(card)
	if res.Outcome != kiosk.Loaded || res.Amount != 4000 || balance(card) != 9000 || res.LoadID != fmt.Sprint(small.ID) {
		t.Fatalf("claim under the limit: %+v, balance %d", res, balance(card))
	}
	res = r.handle(card)
	if res.Outcome != kiosk.Refused || res.Code != kiosk.CodePurseLimit || balance(card) != 9000 || res.Balance != 9000 {
		t.Fatalf("above the limit: %+v, balance %d", res, balance(card))
	}
	if p, _ := r.ledger.PendingLoads(card.Profile().CardNumber()); len(p) != 1 || p[0].Amount != 6000 {
		t.Fatalf("pending at the ledger: %+v", p)
	}
}
