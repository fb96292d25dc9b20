package ledger_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	bolt "go.etcd.io/bbolt"
)

func addAccount(t *testing.T, tl *ledgertest.Ledger, id, card string) accounts.View {
	t.Helper()
	v, err := tl.AddAccount(ledger.AccountParams{ID: id, Card: card, ValidUntil: "20300831", PIN: "123456", BankAccount: "bank-" + id})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAccountLifecycle: an account is opened, topped up, reissued (the old
// card cancelled on the status list in the same step), overdrawn-frozen
// until repaid, and extended; every movement is in its entries.
func TestAccountLifecycle(t *testing.T) {
	tl, clk := start(t)
	v := addAccount(t, tl, "S1", sim.DemoStudentNo)
	if v.State != accounts.Normal || v.TxLimit != accounts.DefaultTxLimit || v.PurseLimit != accounts.DefaultPurseLimit || !v.PINSet || v.PVV != nil {
		t.Fatalf("new account %+v", v)
	}
	if _, err := tl.TopUp("S1", 2500, "alipay 1"); err != nil {
		t.Fatal(err)
	}
	v, err := tl.ReissueCard("S1", "10012026090100000099")
	if err != nil || v.Card != "10012026090100000099" || len(v.OldCards) != 1 || v.OldCards[0].No != sim.DemoStudentNo {
		t.Fatalf("reissue %+v %v", v, err)
	}
	if e, listed, err := tl.StatusOf(sim.DemoStudentNo); err != nil || !listed || e.Reason != ledger.ReasonCancelled {
		t.Errorf("old card on the status list: %+v %v %v", e, listed, err)
	}
	// Found by the old card too.
	r, err := tl.ShowAccount(sim.DemoStudentNo)
	if err != nil || r.Account.ID != "S1" || len(r.Entries) != 1 || r.Entries[0].Kind != accounts.EntryTopUp || r.Account.Loadable != 2500 {
		t.Fatalf("show by the old card %+v %v", r, err)
	}
	// Overdrawn by a fault: frozen until repaid.
	overdraw(t, tl, "S1", 4000)
	st := "normal"
	if _, err := tl.SetAccount("S1", ledger.AccountChange{State: &st}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("unfreezing an overdrawn account: %v", err)
	}
	if v, err = tl.Repay("S1", 1000, "desk"); err != nil || v.State != accounts.OverdrawnFrozen || v.Balance != -500 {
		t.Fatalf("part repaid %+v %v", v, err)
	}
	if v, err = tl.Repay("S1", 500, "desk"); err != nil || v.State != accounts.Normal || v.Balance != 0 || v.Loadable != 0 {
		t.Fatalf("repaid %+v %v", v, err)
	}
	clk.Advance(24 * time.Hour)
	if _, err := tl.ExtendAccount("S1", "20200101"); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("extend into the past: %v", err)
	}
	if v, err = tl.ExtendAccount("S1", "20320831"); err != nil || v.ValidUntil != "20320831" {
		t.Errorf("extend %+v %v", v, err)
	}
}

// overdraw makes account id overdrawn by amount and overdrawn-frozen, as a
// system fault would (no operation does it: that is the point).
func overdraw(t *testing.T, tl *ledgertest.Ledger, id string, amount int64) {
	t.Helper()
	r, err := tl.ShowAccount(id)
	if err != nil {
		t.Fatal(err)
	}
	tl.Close()
	db, err := bolt.Open(tl.Dir+"/"+ledger.DBFile, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Account.Account
	err = db.Update(func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte("accounts")).Get([]byte(id))
		var stored accounts.Account
		if err := jsonUnmarshal(raw, &stored); err != nil {
			return err
		}
		stored.Balance, stored.Loadable, stored.State = a.Balance-amount, 0, accounts.OverdrawnFrozen
		b, err := jsonMarshal(stored)
		if err != nil {
			return err
		}
		return tx.Bucket([]byte("accounts")).Put([]byte(id), b)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	tl.Ledger = nil
	tl.Restart()
}

// TestAccountInvalid: what an account refuses to be.
func TestAccountInvalid(t *testing.T) {
	tl, _ := start(t)
	addAccount(t, tl, "S1", sim.DemoStudentNo)
	for name, p := range map[string]ledger.AccountParams{
		"no id":         {Card: sim.DemoLowBalanceNo},
		"space in id":   {ID: "a b", Card: sim.DemoLowBalanceNo},
		"no card":       {ID: "S2"},
		"taken card":    {ID: "S2", Card: sim.DemoStudentNo},
		"same id":       {ID: "S1", Card: sim.DemoLowBalanceNo},
		"bad state":     {ID: "S2", Card: sim.DemoLowBalanceNo, State: "happy"},
		"bad date":      {ID: "S2", Card: sim.DemoLowBalanceNo, ValidUntil: "2030-08-31"},
		"short PIN":     {ID: "S2", Card: sim.DemoLowBalanceNo, PIN: "12"},
		"letters PIN":   {ID: "S2", Card: sim.DemoLowBalanceNo, PIN: "12ab56"},
		"negative cap":  {ID: "S2", Card: sim.DemoLowBalanceNo, PurseLimit: -1},
		"legacy loads ": {ID: "S2", Card: sim.DemoStaffNo},
	} {
		if name == "legacy loads " {
			if _, err := tl.AddLoad(sim.DemoStaffNo, 100, "bank"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tl.AddAccount(p); !errors.Is(err, ledger.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := tl.TopUp("S1", 0, ""); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("top-up of 0: %v", err)
	}
	if _, err := tl.TopUp("nobody", 100, ""); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("top-up of no account: %v", err)
	}
	if _, err := tl.ReissueCard("S1", sim.DemoStudentNo); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("reissue to its own card: %v", err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }

// TestTopUpSpendOnly: money put into a spend-only account (staff who
// left; a refund at the desk arrives as a top-up) stays at the ledger:
// the card may not claim it.
func TestTopUpSpendOnly(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.TopUp("T2020004", 1000, "desk refund 3"); err != nil {
		t.Fatalf("refund into a spend-only account: %v", err)
	}
	r, err := tl.ShowAccount("T2020004")
	if err != nil || r.Account.State != accounts.SpendOnly || r.Account.Balance != 4000 {
		t.Fatalf("spend-only account %+v %v", r.Account, err)
	}
	c, err := tl.Claims(sim.DemoStaffNo, 0)
	if err != nil || c.Claimable != 0 || c.Refusal != protocol.CodeSpendOnly {
		t.Fatalf("claims of a spend-only account %+v %v", c, err)
	}
}
