package ledger

import (
	"github.com/openykt/yktd/ledger/accounts"
)

// AccountAdmin is what an operator does to accounts (the methods of
// *Ledger and of AdminClient). PINs and ID numbers given here reach the
// key service only: they are never stored, logged or answered.
type AccountAdmin interface {
	AddAccount(p AccountParams) (accounts.View, error)
	ShowAccount(idOrCard string) (AccountReport, error)
	SetAccount(id string, ch AccountChange) (accounts.View, error)
	ExtendAccount(id, until string) (accounts.View, error)
	ReissueCard(id, newCard string) (accounts.View, error)
	Repay(id string, amount int64, ref string) (accounts.View, error)
	TopUp(id string, amount int64, source string) (accounts.View, error)
	ExtendAccounts(ext []Extension) (ExtendReport, error)
}

func accountHandlers(l *Ledger, handle func(path string, f func(req adminReq) (adminResp, error))) {
	view := func(v accounts.View, err error) (adminResp, error) { return adminResp{Account: &v}, err }
	handle("/admin/account/add", func(q adminReq) (adminResp, error) {
		if q.NewAccount == nil {
			q.NewAccount = &AccountParams{}
		}
		return view(l.AddAccount(*q.NewAccount))
	})
	handle("/admin/account/show", func(q adminReq) (adminResp, error) {
		r, err := l.ShowAccount(q.ID)
		return adminResp{AccountReport: &r}, err
	})
	handle("/admin/account/set", func(q adminReq) (adminResp, error) {
		if q.Change == nil {
			q.Change = &AccountChange{}
		}
		return view(l.SetAccount(q.ID, *q.Change))
	})
	handle("/admin/account/extend", func(q adminReq) (adminResp, error) { return view(l.ExtendAccount(q.ID, q.Until)) })
	handle("/admin/account/reissue", func(q adminReq) (adminResp, error) { return view(l.ReissueCard(q.ID, q.Card)) })
	handle("/admin/account/repay", func(q adminReq) (adminResp, error) { return view(l.Repay(q.ID, q.Amount, q.Source)) })
	handle("/admin/account/topup", func(q adminReq) (adminResp, error) { return view(l.TopUp(q.ID, q.Amount, q.Source)) })
	serviceHandlers(l, handle)
}

var _ AccountAdmin = (*AdminClient)(nil)

func (c *AdminClient) view(path string, q adminReq) (accounts.View, error) {
	r, err := c.call(path, q)
	if r.Account == nil {
		return accounts.View{}, err
	}
	return *r.Account, err
}

// AddAccount opens an account (Ledger.AddAccount).
func (c *AdminClient) AddAccount(p AccountParams) (accounts.View, error) {
	return c.view("/admin/account/add", adminReq{NewAccount: &p})
}

// ShowAccount returns an account and its movements (Ledger.ShowAccount).
func (c *AdminClient) ShowAccount(idOrCard string) (AccountReport, error) {
	r, err := c.call("/admin/account/show", adminReq{ID: idOrCard})
	if r.AccountReport == nil {
		return AccountReport{}, err
	}
	return *r.AccountReport, err
}

// SetAccount changes an account (Ledger.SetAccount).
func (c *AdminClient) SetAccount(id string, ch AccountChange) (accounts.View, error) {
	return c.view("/admin/account/set", adminReq{ID: id, Change: &ch})
}

// ExtendAccount sets the validity end (Ledger.ExtendAccount).
func (c *AdminClient) ExtendAccount(id, until string) (accounts.View, error) {
	return c.view("/admin/account/extend", adminReq{ID: id, Until: until})
}

// ReissueCard gives the account a new card (Ledger.ReissueCard).
func (c *AdminClient) ReissueCard(id, newCard string) (accounts.View, error) {
	return c.view("/admin/account/reissue", adminReq{ID: id, Card: newCard})
}

// Repay credits an overdrawn account (Ledger.Repay).
func (c *AdminClient) Repay(id string, amount int64, ref string) (accounts.View, error) {
	return c.view("/admin/account/repay", adminReq{ID: id, Amount: amount, Source: ref})
}

// TopUp credits an account for loading (Ledger.TopUp).
func (c *AdminClient) TopUp(id string, amount int64, source string) (accounts.View, error) {
	return c.view("/admin/account/topup", adminReq{ID: id, Amount: amount, Source: source})
}
