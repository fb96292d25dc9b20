package synce2e

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sim"
)

// TestAccountTransferAndClaim (issue 14): a kiosk on the sync client
// against the real ledger over HTTP with the demo data set: it asks what
// the student's account holds, does a 银校转账 with the holder's PIN (a
// wrong one refused first), loads everything onto the strict virtual card
// with the system PIN, the ledger restarting between the authorisation
// and the TAC, and confirms; the account is empty after, the card holds
// it all, and the refusals of the demo accounts come with their codes.
func TestAccountTransferAndClaim(t *testing.T) {
	ctx := context.Background()
	r := newLoadRig(t, 0)
	if err := ledger.SeedDemo(r.lr.ledger()); err != nil {
		t.Fatal(err)
	}
	cardNo := r.pub.CardNumber()
	before := r.balance(t)
	c, err := r.client.Claims(ctx, cardNo, int64(before))
	if err != nil || c.Account != "S2026001" || c.Claimable != 5000 || c.Refusal != 0 {
		t.Fatalf("claims %+v %v", c, err)
	}
	reqID := make([]byte, protocol.RequestIDSize)
	rand.Read(reqID)
	if _, err := r.client.Transfer(ctx, protocol.TransferRequest{CardNo: cardNo, RequestID: reqID, Amount: 20000, PIN: protocol.SecretPIN("111111")}); !errors.Is(err, protocol.ErrPINInvalid) {
		t.Fatalf("wrong PIN: %v", err)
	}
	rand.Read(reqID)
	tr, err := r.client.Transfer(ctx, protocol.TransferRequest{CardNo: cardNo, RequestID: reqID, Amount: 20000, PIN: protocol.SecretPIN("123456")})
	if err != nil || tr.Loadable != 25000 {
		t.Fatalf("transfer %+v %v", tr, err)
	}
	host := &kioskHost{c: r.client, cardNo: cardNo}
	out := r.load(host, 25000, 0)
	if out.Kind != epurse.Done || r.balance(t) != before+25000 {
		t.Fatalf("load: %v %v", out.Kind, out.Err)
	}
	r.lr.restart()
	resp, err := r.client.ConfirmLoad(ctx, protocol.LoadConfirm{LoadID: host.resp.LoadID, CardNo: cardNo, OnlineCounter: out.Auth.OnlineCounter,
		TAC: out.TAC[:], BalanceAfter: int64(out.BalanceAfter)})
	if err != nil || resp.State != protocol.LoadCompleted {
		t.Fatalf("confirm after the restart: %+v %v", resp, err)
	}
	rep, err := r.lr.ledger().ShowAccount("S2026001")
	if err != nil || rep.Account.Balance != 0 || rep.Account.Loadable != 0 || rep.Account.Authorised != 0 {
		t.Fatalf("account after %+v %v", rep.Account, err)
	}
	if c, _ := r.client.Claims(ctx, cardNo, int64(before)+25000); c.Claimable != 0 || c.Loadable != 0 {
		t.Errorf("claims after %+v", c)
	}
	// Nothing more to load: refused before CREDIT, the card unchanged.
	if out := r.load(&kioskHost{c: r.client, cardNo: cardNo}, 100, 0); out.Kind != epurse.Refused || !errors.Is(out.Err, protocol.ErrNoPendingLoad) {
		t.Errorf("load of nothing: %v %v", out.Kind, out.Err)
	}
	for card, want := range map[string]protocol.Code{sim.DemoStaffNo: protocol.CodeSpendOnly, sim.DemoLostNo: protocol.CodeAccountLost, sim.DemoExpiredNo: protocol.CodeAccountExpired} {
		if c, err := r.client.Claims(ctx, card, 0); err != nil || c.Refusal != want || c.Claimable != 0 {
			t.Errorf("claims of %s: %+v %v, want %v", card, c, err, want)
		}
	}
}
