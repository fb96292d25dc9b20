package ledger_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// claims asks /v1/claims for card.
func claims(t *testing.T, tl *ledgertest.Ledger, dev *ledgertest.Device, card string, balance int64) protocol.Claims {
	t.Helper()
	status, body := tl.Post(t, protocol.PathClaims, dev.Seal(t, &protocol.ClaimRequest{DeviceID: dev.ID, CardNo: card, CardBalance: balance}))
	if status != http.StatusOK {
		t.Fatalf("claims: %d %v", status, ledgertest.ErrorOf(body))
	}
	c, _, err := protocol.Open[protocol.Claims](tl.Keys(), body, dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func account(t *testing.T, tl *ledgertest.Ledger, id string) accounts.View {
	t.Helper()
	r, err := tl.ShowAccount(id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Account
}

// claimRig is a kiosk with the strict virtual card of an account's holder.
type claimRig struct {
	tl   *ledgertest.Ledger
	clk  *clock
	dev  *ledgertest.Device
	tm   *terminal
	host *kioskHost
	card string
}

func newClaimRig(t *testing.T, demo string) *claimRig {
	t.Helper()
	tl, clk := start(t)
	dev := tl.Enrol(t, "kiosk-1", protocol.DeviceKiosk)
	tm := newTerminal(t, "kiosk-1", demo)
	card := tm.pub.CardNumber()
	return &claimRig{tl: tl, clk: clk, dev: dev, tm: tm, card: card, host: &kioskHost{t: t, tl: tl, dev: dev, cardNo: card}}
}

// load runs a whole load on the card with the system PIN from the SAM,
// the MAC2 from the ledger over HTTP.
func (r *claimRig) load(amount uint32) epurse.LoadOutcome {
	r.clk.Advance(time.Minute)
	return epurse.Load(context.Background(), r.tm.card, r.host, epurse.LoadRequest{Amount: amount, Time: epurse.NewDateTime(r.clk.Now()),
		TermID: [6]byte{0, 0, 0, 0, 0x4B, 0x11}, CardSerial: r.tm.pub.Factor(), PIN: r.tm.sam})
}

func (r *claimRig) confirm(t *testing.T, out epurse.LoadOutcome) protocol.LoadConfirmResponse {
	t.Helper()
	resp, e := confirm(t, r.tl, r.dev, &protocol.LoadConfirm{DeviceID: r.dev.ID, LoadID: r.host.resp.LoadID, CardNo: r.card,
		OnlineCounter: out.Auth.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	if e != nil {
		t.Fatalf("confirm: %v", e)
	}
	return resp
}

func (r *claimRig) balance(t *testing.T) uint32 {
	t.Helper()
	b, err := epurse.GetBalance(context.Background(), r.tm.card)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClaimFromAccount: the account is the source of loads: what it
// holds for loading is claimed in parts onto the strict virtual card, the
// account debited at the authorisation and settled by the TAC, the same
// money never twice, nothing more than it holds.
func TestClaimFromAccount(t *testing.T) {
	r := newClaimRig(t, "student") // 100.00 on the card
	addAccount(t, r.tl, "S1", r.card)
	if _, err := r.tl.TopUp("S1", 5000, "alipay 7"); err != nil {
		t.Fatal(err)
	}
	if c := claims(t, r.tl, r.dev, r.card, 10000); c.Account != "S1" || c.Loadable != 5000 || c.Claimable != 5000 || c.Refusal != 0 {
		t.Fatalf("claims %+v", c)
	}
	// The old endpoint lists it too.
	status, body := r.tl.Post(t, protocol.PathPending, r.dev.Seal(t, &protocol.PendingRequest{DeviceID: r.dev.ID, CardNo: r.card}))
	if pend, _, err := protocol.Open[protocol.Pending](r.tl.Keys(), body, r.dev.ID); status != 200 || err != nil || pend.Total() != 5000 {
		t.Fatalf("pending %d %+v %v", status, pend, err)
	}
	out := r.load(3000)
	if out.Kind != epurse.Done || r.balance(t) != 13000 {
		t.Fatalf("load: %v %v", out.Kind, out.Err)
	}
	if a := account(t, r.tl, "S1"); a.Balance != 2000 || a.Loadable != 2000 || a.Authorised != 3000 {
		t.Fatalf("account after the authorisation %+v", a)
	}
	// A retry of the same init (the answer was lost): same load, no second debit.
	status, _ = r.tl.Post(t, protocol.PathLoadInit, r.host.sent)
	if a := account(t, r.tl, "S1"); status != 200 || a.Loadable != 2000 {
		t.Fatalf("repeated init: %d %+v", status, a)
	}
	if resp := r.confirm(t, out); resp.State != protocol.LoadCompleted {
		t.Fatalf("confirm %+v", resp)
	}
	if a := account(t, r.tl, "S1"); a.Authorised != 0 || a.Balance != 2000 {
		t.Fatalf("account after the TAC %+v", a)
	}
	// More than the account holds: refused before CREDIT, the card keeps its balance.
	out = r.load(2001)
	var pe *protocol.Error
	if out.Kind != epurse.Refused || !errors.As(out.Err, &pe) || pe.Code != protocol.CodeNoPendingLoad || r.balance(t) != 13000 {
		t.Fatalf("load beyond the account: %v %v", out.Kind, out.Err)
	}
	if out = r.load(2000); out.Kind != epurse.Done {
		t.Fatalf("the rest: %v %v", out.Kind, out.Err)
	}
	r.confirm(t, out)
	if a := account(t, r.tl, "S1"); a.Balance != 0 || a.Loadable != 0 || a.Authorised != 0 || r.balance(t) != 15000 {
		t.Fatalf("after everything %+v, card %d", a, r.balance(t))
	}
	rep, _ := r.tl.ShowAccount("S1")
	kinds := ""
	for _, e := range rep.Entries {
		kinds += e.Kind + " "
	}
	if kinds != "topup load load " {
		t.Errorf("entries %q", kinds)
	}
	// Operators' load rows are for cards without an account.
	if _, err := r.tl.AddLoad(r.card, 100, "bank"); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("a load row for an account's card: %v", err)
	}
}

// TestClaimVoided: a load authorised and never credited (the card left
// before CREDIT FOR LOAD) is voided when the card comes back at the same
// counter: the money is back in the account, then the new load is taken.
func TestClaimVoided(t *testing.T) {
	r := newClaimRig(t, "student")
	addAccount(t, r.tl, "S1", r.card)
	r.tl.TopUp("S1", 5000, "bank")
	ctx := context.Background()
	termID := [6]byte{0, 0, 0, 0, 0x4B, 0x11}
	in, err := r.tm.initLoad(ctx, 3000, termID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.host.AuthorizeLoad(ctx, epurse.LoadAuthorization{CardSerial: r.tm.pub.Factor(), TermID: termID, Amount: 3000,
		Time: epurse.NewDateTime(r.clk.Now()), BalanceBefore: in.Balance, OnlineCounter: in.OnlineCounter, KeyVersion: in.KeyVersion,
		Algorithm: in.Algorithm, Random: in.Random, MAC1: in.MAC1}); err != nil {
		t.Fatal(err)
	}
	first := mustID(t, r.host.resp.LoadID)
	if a := account(t, r.tl, "S1"); a.Loadable != 2000 {
		t.Fatalf("after the first authorisation %+v", a)
	}
	out := r.load(1000)
	if out.Kind != epurse.Done {
		t.Fatalf("second load %v %v", out.Kind, out.Err)
	}
	if ld, _ := r.tl.LoadByID(first); ld.State != ledger.LoadVoided {
		t.Errorf("first load %s, want voided", ld.State)
	}
	if a := account(t, r.tl, "S1"); a.Loadable != 4000 || a.Balance != 4000 || a.Authorised != 1000 {
		t.Fatalf("account %+v", a)
	}
	// A confirmation of the voided load is refused.
	_, e := confirm(t, r.tl, r.dev, &protocol.LoadConfirm{DeviceID: r.dev.ID, LoadID: loadIDOf(first), CardNo: r.card,
		OnlineCounter: in.OnlineCounter, TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	wantCode(t, e, protocol.CodeNoPendingLoad)
	r.confirm(t, out)
}

func loadIDOf(id uint64) string { return strconv.FormatUint(id, 10) }

// TestClaimRefused: every account state that forbids loads, the purse
// limit and a replaced card are refused with their code before CREDIT;
// neither the card nor the account changes, and /v1/claims says so first.
func TestClaimRefused(t *testing.T) {
	r := newClaimRig(t, "student")
	addAccount(t, r.tl, "S1", r.card)
	r.tl.TopUp("S1", 5000, "bank")
	for st, code := range map[accounts.State]protocol.Code{
		accounts.SpendOnly: protocol.CodeSpendOnly, accounts.OverdrawnFrozen: protocol.CodeOverdrawnFrozen,
		accounts.Lost: protocol.CodeAccountLost, accounts.Frozen: protocol.CodeAccountFrozen, accounts.Dormant: protocol.CodeAccountDormant,
		accounts.Cancelled: protocol.CodeAccountCancelled, accounts.Expired: protocol.CodeAccountExpired,
	} {
		s := string(st)
		if _, err := r.tl.SetAccount("S1", ledger.AccountChange{State: &s}); err != nil {
			t.Fatal(err)
		}
		if c := claims(t, r.tl, r.dev, r.card, 10000); c.Refusal != code || c.Claimable != 0 || c.Loadable != 5000 {
			t.Errorf("%s: claims %+v", st, c)
		}
		out := r.load(1000)
		var pe *protocol.Error
		if out.Kind != epurse.Refused || !errors.As(out.Err, &pe) || pe.Code != code {
			t.Errorf("%s: load %v %v, want code %v", st, out.Kind, out.Err, code)
		}
		if a := account(t, r.tl, "S1"); a.Loadable != 5000 || a.Authorised != 0 || r.balance(t) != 10000 {
			t.Errorf("%s: account %+v card %d", st, a, r.balance(t))
		}
	}
	normal := "normal"
	r.tl.SetAccount("S1", ledger.AccountChange{State: &normal})
	// Past the validity end, whatever the state says.
	r.clk.Advance(5 * 365 * 24 * time.Hour)
	if c := claims(t, r.tl, r.dev, r.card, 10000); c.Refusal != protocol.CodeAccountExpired {
		t.Errorf("past the end: %+v", c)
	}
	if _, err := r.tl.ExtendAccount("S1", "20351231"); err != nil {
		t.Fatal(err)
	}
	// The purse limit.
	limit := int64(12000)
	r.tl.SetAccount("S1", ledger.AccountChange{PurseLimit: &limit})
	if c := claims(t, r.tl, r.dev, r.card, 10000); c.Claimable != 2000 || c.Refusal != 0 {
		t.Errorf("claims under the purse limit %+v", c)
	}
	if c := claims(t, r.tl, r.dev, r.card, 12000); c.Claimable != 0 || c.Refusal != protocol.CodePurseLimit {
		t.Errorf("claims at the purse limit %+v", c)
	}
	out := r.load(2001)
	var pe *protocol.Error
	if out.Kind != epurse.Refused || !errors.As(out.Err, &pe) || pe.Code != protocol.CodePurseLimit {
		t.Errorf("above the purse limit: %v %v", out.Kind, out.Err)
	}
	if out := r.load(2000); out.Kind != epurse.Done {
		t.Errorf("up to the purse limit: %v %v", out.Kind, out.Err)
	}
	// A replaced card loads nothing of the account.
	if _, err := r.tl.ReissueCard("S1", "10012026090100000099"); err != nil {
		t.Fatal(err)
	}
	if c := claims(t, r.tl, r.dev, r.card, 0); c.Refusal != protocol.CodeAccountCancelled {
		t.Errorf("old card claims %+v", c)
	}
}

// TestClaimInferred: a load credited whose TAC never came is settled at
// the account when the card's online counter passes it.
func TestClaimInferred(t *testing.T) {
	r := newClaimRig(t, "student")
	addAccount(t, r.tl, "S1", r.card)
	r.tl.TopUp("S1", 5000, "bank")
	if out := r.load(1000); out.Kind != epurse.Done {
		t.Fatal(out.Err)
	}
	if a := account(t, r.tl, "S1"); a.Authorised != 1000 {
		t.Fatalf("%+v", a)
	}
	first := mustID(t, r.host.resp.LoadID)
	out := r.load(1500)
	if out.Kind != epurse.Done {
		t.Fatal(out.Err)
	}
	if ld, _ := r.tl.LoadByID(first); ld.State != ledger.LoadDone || !ld.Inferred {
		t.Errorf("first load %+v", ld)
	}
	if a := account(t, r.tl, "S1"); a.Authorised != 1500 || a.Balance != 2500 || a.Loadable != 2500 {
		t.Errorf("account %+v", a)
	}
	r.confirm(t, out)
	if a := account(t, r.tl, "S1"); a.Authorised != 0 || r.balance(t) != 12500 {
		t.Errorf("account %+v card %d", a, r.balance(t))
	}
}

// TestClaimsAuthority: /v1/claims and /v1/transfers answer enrolled,
// active devices only: a revoked kiosk and a key the ledger does not know
// are refused before anything is read of the account.
func TestClaimsAuthority(t *testing.T) {
	r := newClaimRig(t, "student")
	addAccount(t, r.tl, "S1", r.card)
	stranger := ledgertest.NewDevice(t, "kiosk-x")
	status, body := r.tl.Post(t, protocol.PathClaims, stranger.Seal(t, &protocol.ClaimRequest{DeviceID: stranger.ID, CardNo: r.card}))
	if e := ledgertest.ErrorOf(body); status != http.StatusUnauthorized || e == nil || e.Code != protocol.CodeUnknownDevice {
		t.Errorf("unknown device: %d %v", status, e)
	}
	if err := r.tl.Revoke(r.dev.ID); err != nil {
		t.Fatal(err)
	}
	for _, m := range []protocol.Message{
		&protocol.ClaimRequest{DeviceID: r.dev.ID, CardNo: r.card},
		&protocol.TransferRequest{DeviceID: r.dev.ID, CardNo: r.card, RequestID: make([]byte, 16), Amount: 100, PIN: protocol.SecretPIN("123456")},
	} {
		status, body := r.tl.Post(t, map[bool]string{true: protocol.PathClaims, false: protocol.PathTransfer}[m.ContentType() == protocol.TypeClaimRequest], r.dev.Seal(t, m))
		if e := ledgertest.ErrorOf(body); status != http.StatusForbidden || e == nil || e.Code != protocol.CodeRevoked {
			t.Errorf("%s from a revoked kiosk: %d %v", m.ContentType(), status, e)
		}
	}
}
