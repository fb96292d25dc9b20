package ledger

import (
	"errors"
	"fmt"

	"github.com/openykt/yktd/ledger/bank"
)

// DemoAccount is one account of the demo data set (SeedDemo).
type DemoAccount struct {
	Params AccountParams
	TopUp  int64 // fen waiting for loading
	// BankBalance opens Params.BankAccount in the simulated bank with it.
	BankBalance int64
	Note        string
}

// DemoAccounts is the demo data set for the simulator (yktd run --sim):
// accounts of the demo cards of reader/sim (the card numbers are its
// Demo*No; every PIN is the guide's initial 123456).
func DemoAccounts() []DemoAccount {
	p := func(id, card, until, state, bankAcct string) AccountParams {
		return AccountParams{ID: id, Card: card, ValidUntil: until, State: state, PIN: "123456", BankAccount: bankAcct}
	}
	return []DemoAccount{
		{Params: p("S2026001", "10012026090100000001", "20300831", "", "6222020000000001"), TopUp: 5000, BankBalance: 100000,
			Note: "student: 50.00 paid online waiting to be claimed, a bank account with 1000.00"},
		{Params: p("S2026002", "10012026090100000002", "20300831", "lost", ""), Note: "the lost card's account: loads refused (account-lost)"},
		{Params: p("S2026003", "10012026090100000003", "20300831", "", "6222020000000003"), TopUp: 2000, BankBalance: 500,
			Note: "low balance: 20.00 waiting, a bank account with only 5.00 (a larger transfer is refused)"},
		{Params: p("T2020004", "10012026090100000004", "20351231", "spend-only", ""), TopUp: 3000,
			Note: "staff who left: may spend, loads refused (spend-only)"},
		{Params: p("S2020005", "10012026090100000005", "20240831", "", ""), TopUp: 1000, Note: "validity ended: loads refused (account-expired)"},
	}
}

// SeedDemo opens the demo accounts (DemoAccounts) in l, with their money
// waiting for loading and their bank accounts in the simulated bank (when
// l's bank is the simulated one). Accounts that exist are left alone, so
// it may run at every start of a simulator.
func SeedDemo(l *Ledger) error {
	sim, _ := l.bank.(*bank.Simulated)
	for _, d := range DemoAccounts() {
		if _, err := l.ShowAccount(d.Params.ID); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("ledger: demo: %w", err)
		}
		// The money arrived while the account was normal; its state
		// (spend-only, lost, ...) came after.
		p := d.Params
		state := p.State
		p.State = ""
		if _, err := l.AddAccount(p); err != nil {
			return fmt.Errorf("ledger: demo: %w", err)
		}
		if d.TopUp > 0 {
			if _, err := l.TopUp(d.Params.ID, d.TopUp, "online top-up (demo)"); err != nil {
				return fmt.Errorf("ledger: demo: %w", err)
			}
		}
		if state != "" {
			if _, err := l.SetAccount(d.Params.ID, AccountChange{State: &state}); err != nil {
				return fmt.Errorf("ledger: demo: %w", err)
			}
		}
		if sim != nil && d.Params.BankAccount != "" {
			if err := sim.Open(d.Params.BankAccount, d.BankBalance); err != nil {
				return fmt.Errorf("ledger: demo: %w", err)
			}
		}
	}
	return nil
}
