package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
)

// AdminSocket is the name of the operator socket in the data directory:
// while ledgerd serves (and so holds the database), the operator commands
// of ledgerd reach the ledger through it. It is a Unix socket of mode 0600
// in a 0700 directory: whoever may read the database may use it.
const AdminSocket = "admin.sock"

// Admin is what an operator does to a ledger: the methods of *Ledger and of
// AdminClient (the same operations through a serving ledgerd).
type Admin interface {
	NewToken(device, kind string) (string, time.Time, error)
	NewSiteToken(device, kind, site string) (string, time.Time, error)
	Rekey(device string) (string, time.Time, error)
	Devices() ([]Device, error)
	Revoke(device string) error
	Rebind(device string, terminal []byte) (Device, error)
	SetStatus(card string, reason uint8) (uint64, error)
	RemoveStatus(card string) (uint64, error)
	AddLoad(card string, amount int64, source string) (Load, error)
	CancelLoad(id uint64) (Load, error)
	PendingLoads(card string) ([]Load, error)
	SetRulesJSON(file []byte) (uint64, error)
	Report() (Report, error)
	Alerts() ([]Alert, error)
	AccountAdmin
}

var _ Admin = (*Ledger)(nil)

// SetRulesJSON parses a rules file (ParseRules) and stores it as the next
// version, which it returns.
func (l *Ledger) SetRulesJSON(file []byte) (uint64, error) {
	r, err := ParseRules(file)
	if err != nil {
		return 0, err
	}
	r, err = l.SetRules(r)
	return r.Version, err
}

type adminReq struct {
	Device string `json:"device,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Site   string `json:"site,omitempty"`
	Card   string `json:"card,omitempty"`
	Reason uint8  `json:"reason,omitempty"`
	Amount int64  `json:"amount,omitempty"`
	Source string `json:"source,omitempty"`
	Rules  []byte `json:"rules,omitempty"`
	LoadID uint64 `json:"load_id,omitempty"`
	// Terminal is a PSAM terminal id (rebind).
	Terminal []byte `json:"terminal,omitempty"`

	ID          string         `json:"id,omitempty"`
	Until       string         `json:"until,omitempty"`
	NewAccount  *AccountParams `json:"new_account,omitempty"`
	Change      *AccountChange `json:"change,omitempty"`
	BankBalance int64          `json:"bank_balance,omitempty"`
	Extensions  []Extension    `json:"extensions,omitempty"`
}

type adminResp struct {
	Error   string    `json:"error,omitempty"`
	Kind    string    `json:"kind,omitempty"` // sentinel name of Error
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Version uint64    `json:"version,omitempty"`
	Devices []Device  `json:"devices,omitempty"`
	Load    *Load     `json:"load,omitempty"`
	Loads   []Load    `json:"loads,omitempty"`
	Report  *Report   `json:"report,omitempty"`
	Alerts  []Alert   `json:"alerts,omitempty"`

	Account       *accounts.View `json:"account,omitempty"`
	AccountReport *AccountReport `json:"account_report,omitempty"`
	ExtendReport  *ExtendReport  `json:"extend_report,omitempty"`
}

var adminErrs = map[string]error{"invalid": ErrInvalid, "not-found": ErrNotFound, "revoked": ErrRevoked}

// AdminHandler serves the operator operations of l as JSON over HTTP, for
// the admin socket only (it has no authentication of its own).
func AdminHandler(l *Ledger) http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, f func(req adminReq) (adminResp, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			var req adminReq
			dec := json.NewDecoder(io.LimitReader(r.Body, 2*MaxRulesFile+4096))
			dec.DisallowUnknownFields()
			resp, err := adminResp{}, dec.Decode(&req)
			if err != nil {
				err = fmt.Errorf("ledger: admin: %w: %w", ErrInvalid, err)
			} else {
				resp, err = f(req)
			}
			w.Header().Set("Content-Type", "application/json")
			if err != nil {
				resp = adminResp{Error: err.Error()}
				for k, e := range adminErrs {
					if errors.Is(err, e) {
						resp.Kind = k
					}
				}
				w.WriteHeader(http.StatusBadRequest)
			}
			_ = json.NewEncoder(w).Encode(resp)
		})
	}
	handle("/admin/token", func(q adminReq) (adminResp, error) {
		tok, exp, err := l.NewSiteToken(q.Device, q.Kind, q.Site)
		return adminResp{Token: tok, Expires: exp}, err
	})
	handle("/admin/rekey", func(q adminReq) (adminResp, error) {
		tok, exp, err := l.Rekey(q.Device)
		return adminResp{Token: tok, Expires: exp}, err
	})
	handle("/admin/alerts", func(adminReq) (adminResp, error) {
		a, err := l.Alerts()
		return adminResp{Alerts: a}, err
	})
	handle("/admin/devices", func(adminReq) (adminResp, error) {
		d, err := l.Devices()
		return adminResp{Devices: d}, err
	})
	handle("/admin/revoke", func(q adminReq) (adminResp, error) { return adminResp{}, l.Revoke(q.Device) })
	handle("/admin/rebind", func(q adminReq) (adminResp, error) {
		d, err := l.Rebind(q.Device, q.Terminal)
		return adminResp{Devices: []Device{d}}, err
	})
	handle("/admin/status", func(q adminReq) (adminResp, error) {
		var v uint64
		var err error
		if q.Reason == ReasonRemoved {
			v, err = l.RemoveStatus(q.Card)
		} else {
			v, err = l.SetStatus(q.Card, q.Reason)
		}
		return adminResp{Version: v}, err
	})
	handle("/admin/load", func(q adminReq) (adminResp, error) {
		ld, err := l.AddLoad(q.Card, q.Amount, q.Source)
		return adminResp{Load: &ld}, err
	})
	handle("/admin/load/cancel", func(q adminReq) (adminResp, error) {
		ld, err := l.CancelLoad(q.LoadID)
		return adminResp{Load: &ld}, err
	})
	handle("/admin/load/list", func(q adminReq) (adminResp, error) {
		lds, err := l.PendingLoads(q.Card)
		return adminResp{Loads: lds}, err
	})
	handle("/admin/rules", func(q adminReq) (adminResp, error) {
		v, err := l.SetRulesJSON(q.Rules)
		return adminResp{Version: v}, err
	})
	accountHandlers(l, handle)
	handle("/admin/report", func(adminReq) (adminResp, error) {
		r, err := l.Report()
		return adminResp{Report: &r}, err
	})
	return mux
}

// AdminClient performs operator operations through the admin socket of a
// serving ledgerd.
type AdminClient struct {
	hc *http.Client
}

var _ Admin = (*AdminClient)(nil)

// NewAdminClient returns a client of the admin socket at path.
func NewAdminClient(path string) *AdminClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &AdminClient{hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *AdminClient) call(path string, req adminReq) (adminResp, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return adminResp{}, fmt.Errorf("ledger: admin %s: %w", path, err)
	}
	hr, err := c.hc.Post("http://ledgerd"+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return adminResp{}, fmt.Errorf("ledger: admin %s: %w", path, err)
	}
	defer hr.Body.Close()
	var resp adminResp
	if err := json.NewDecoder(io.LimitReader(hr.Body, 64<<20)).Decode(&resp); err != nil {
		return adminResp{}, fmt.Errorf("ledger: admin %s: answer: %w", path, err)
	}
	if resp.Error != "" {
		if e, ok := adminErrs[resp.Kind]; ok {
			return adminResp{}, fmt.Errorf("%s (%w)", resp.Error, e)
		}
		return adminResp{}, errors.New(resp.Error)
	}
	return resp, nil
}

// NewToken issues an enrolment token (Ledger.NewToken).
func (c *AdminClient) NewToken(device, kind string) (string, time.Time, error) {
	r, err := c.call("/admin/token", adminReq{Device: device, Kind: kind})
	return r.Token, r.Expires, err
}

// NewSiteToken issues an enrolment token for a site (Ledger.NewSiteToken).
func (c *AdminClient) NewSiteToken(device, kind, site string) (string, time.Time, error) {
	r, err := c.call("/admin/token", adminReq{Device: device, Kind: kind, Site: site})
	return r.Token, r.Expires, err
}

// Rekey issues a rekey token (Ledger.Rekey).
func (c *AdminClient) Rekey(device string) (string, time.Time, error) {
	r, err := c.call("/admin/rekey", adminReq{Device: device})
	return r.Token, r.Expires, err
}

// Alerts lists the alerts (Ledger.Alerts).
func (c *AdminClient) Alerts() ([]Alert, error) {
	r, err := c.call("/admin/alerts", adminReq{})
	return r.Alerts, err
}

// Devices lists the devices (Ledger.Devices).
func (c *AdminClient) Devices() ([]Device, error) {
	r, err := c.call("/admin/devices", adminReq{})
	return r.Devices, err
}

// Revoke revokes a device (Ledger.Revoke).
func (c *AdminClient) Revoke(device string) error {
	_, err := c.call("/admin/revoke", adminReq{Device: device})
	return err
}

// Rebind binds a PSAM terminal id to a device and lifts its hold
// (Ledger.Rebind).
func (c *AdminClient) Rebind(device string, terminal []byte) (Device, error) {
	r, err := c.call("/admin/rebind", adminReq{Device: device, Terminal: terminal})
	if err != nil {
		return Device{}, err
	}
	if len(r.Devices) != 1 {
		return Device{}, fmt.Errorf("ledger: admin rebind: %d devices in the answer", len(r.Devices))
	}
	return r.Devices[0], nil
}

// SetStatus lists a card (Ledger.SetStatus).
func (c *AdminClient) SetStatus(card string, reason uint8) (uint64, error) {
	if reason == ReasonRemoved {
		return 0, fmt.Errorf("ledger: admin status: reason 0: %w", ErrInvalid)
	}
	r, err := c.call("/admin/status", adminReq{Card: card, Reason: reason})
	return r.Version, err
}

// RemoveStatus takes a card off the list (Ledger.RemoveStatus).
func (c *AdminClient) RemoveStatus(card string) (uint64, error) {
	r, err := c.call("/admin/status", adminReq{Card: card})
	return r.Version, err
}

// AddLoad adds a pending load (Ledger.AddLoad).
func (c *AdminClient) AddLoad(card string, amount int64, source string) (Load, error) {
	r, err := c.call("/admin/load", adminReq{Card: card, Amount: amount, Source: source})
	if r.Load == nil {
		return Load{}, err
	}
	return *r.Load, err
}

// CancelLoad withdraws a pending load (Ledger.CancelLoad).
func (c *AdminClient) CancelLoad(id uint64) (Load, error) {
	r, err := c.call("/admin/load/cancel", adminReq{LoadID: id})
	if r.Load == nil {
		return Load{}, err
	}
	return *r.Load, err
}

// PendingLoads lists a card's pending loads (Ledger.PendingLoads).
func (c *AdminClient) PendingLoads(card string) ([]Load, error) {
	r, err := c.call("/admin/load/list", adminReq{Card: card})
	return r.Loads, err
}

// SetRulesJSON sets the rules from a rules file (Ledger.SetRulesJSON).
func (c *AdminClient) SetRulesJSON(file []byte) (uint64, error) {
	r, err := c.call("/admin/rules", adminReq{Rules: file})
	return r.Version, err
}

// Report returns the ledger's report (Ledger.Report).
func (c *AdminClient) Report() (Report, error) {
	r, err := c.call("/admin/report", adminReq{})
	if r.Report == nil {
		return Report{}, err
	}
	return *r.Report, err
}
