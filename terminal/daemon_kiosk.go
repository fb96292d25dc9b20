package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/kiosk"
)

// Ledger is the device's online link to the ledger for the exchanges
// that happen while a card waits (loads, claims, transfers);
// *syncclient.Client implements it.
type Ledger interface {
	kiosk.Ledger
	kiosk.Bank
	kiosk.Services
}

// ErrNotEnrolled is what a kiosk without a ledger link answers: it is
// not enrolled (or runs without sync.ledger), so every claim is refused
// with ledger_unreachable.
var ErrNotEnrolled = errors.New("terminal: no ledger link: the device is not enrolled (yktd run --enrol TOKEN)")

// noLedger is the Ledger of a device that has none.
type noLedger struct{}

func (noLedger) Pending(context.Context, string) (protocol.Pending, error) {
	return protocol.Pending{}, ErrNotEnrolled
}
func (noLedger) InitLoad(context.Context, protocol.LoadInit) (protocol.LoadInitResponse, error) {
	return protocol.LoadInitResponse{}, ErrNotEnrolled
}
func (noLedger) ConfirmLoad(context.Context, protocol.LoadConfirm) (protocol.LoadConfirmResponse, error) {
	return protocol.LoadConfirmResponse{}, ErrNotEnrolled
}
func (noLedger) Claims(context.Context, string, int64) (protocol.Claims, error) {
	return protocol.Claims{}, ErrNotEnrolled
}
func (noLedger) Transfer(context.Context, protocol.TransferRequest) (protocol.TransferResponse, error) {
	return protocol.TransferResponse{}, ErrNotEnrolled
}
func (noLedger) Service(context.Context, protocol.ServiceRequest) (protocol.ServiceAnswer, error) {
	return protocol.ServiceAnswer{}, ErrNotEnrolled
}
func (noLedger) PendingWrites(context.Context, string, string) ([]protocol.CardWrite, error) {
	return nil, ErrNotEnrolled
}
func (noLedger) ReportWrite(context.Context, protocol.CardWriteReport) (protocol.CardWriteAck, error) {
	return protocol.CardWriteAck{}, ErrNotEnrolled
}
func (noLedger) WriteMAC(context.Context, protocol.CardWriteMACRequest) ([4]byte, bool, error) {
	return [4]byte{}, false, ErrNotEnrolled
}

// kioskSAM is the PSAM as a load needs it: the terminal id and the
// card's system PIN.
type kioskSAM interface {
	epurse.SAM
	epurse.SystemPINSource
}

// newKiosk builds the kiosk flow and its session keeper.
func (d *Daemon) newKiosk() error {
	s, ok := d.deps.SAM.(kioskSAM)
	if !ok {
		return errors.New("terminal: daemon: a kiosk needs a SAM that gives the card's system PIN (device.sam; a soft key file needs \"system_pin\")")
	}
	l := d.deps.Ledger
	if l == nil {
		d.log.Warn("kiosk: no ledger link: every claim is refused until the device is enrolled")
		l = noLedger{}
	}
	k, err := kiosk.New(kiosk.Options{Store: d.deps.Store, Ledger: l, SAM: s, Display: d.deps.Display, Buzzer: d.deps.Buzzer,
		Now: d.deps.Now, Location: d.loc, Config: d.cfg.Kiosk, Logger: d.log, Holds: d.holds})
	if err != nil {
		return err
	}
	cw, err := cardwrite.New(cardwrite.Options{Store: cardwrite.OfflineStore{S: d.deps.Store}, Ledger: l,
		LedgerTimeout: d.cfg.Kiosk.LedgerTimeout.D(), Logger: d.log})
	if err != nil {
		return err
	}
	ss, err := kiosk.NewSessions(kiosk.SessionOptions{Kiosk: k, Bank: l, Display: d.deps.Display, Config: d.cfg.Kiosk,
		Now: d.deps.Now, Logger: d.log, Services: l, Writes: cw, Desk: d.cfg.Device.Kind == config.KindDesk})
	if err != nil {
		return err
	}
	d.kiosk, d.sessions, d.cardWrites = k, ss, cw
	return nil
}

// Kiosk returns the kiosk flow, or nil on another kind.
func (d *Daemon) Kiosk() *kiosk.Kiosk { return d.kiosk }

// runConfirms reports to the ledger the loads this kiosk or POS credited
// and could not confirm at the time, every KioskConfirmInterval until ctx
// ends.
func (d *Daemon) runConfirms(ctx context.Context) error {
	t := time.NewTicker(KioskConfirmInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			var err error
			if d.kiosk != nil {
				err = d.kiosk.Confirm(ctx)
			} else if d.pos != nil {
				err = d.pos.ConfirmLoads(ctx)
			}
			if err != nil {
				return err
			}
			if d.cardWrites != nil {
				// Card writes whose outcome the ledger has not taken yet;
				// a ledger still away is tried again next round.
				if n, err := d.cardWrites.Report(ctx); err != nil {
					d.log.Info("card write reports not taken yet", "reported", n, "err", err)
				}
			}
		}
	}
}

// KioskConfirmInterval is how often a kiosk (or a POS that claims)
// reports to the ledger the credited loads it could not confirm at the
// time.
const KioskConfirmInterval = 30 * time.Second

// handleKiosk opens the card's session when it arrives (claiming what
// waits, with kiosk.auto_claim) and ends it when it leaves.
func (d *Daemon) handleKiosk(ctx context.Context, ev reader.Event) {
	switch ev.Kind {
	case reader.CardPresent:
		start := time.Now()
		st := d.sessions.Open(ctx, ev.Reader, ev.Card)
		d.metrics.took("kiosk", "total", time.Since(start))
		d.recordKiosk(ev.Reader, st, false, nil)
	case reader.CardRemoved:
		d.sessions.Close(ctx, ev.Reader, "card removed")
	}
}

func (d *Daemon) recordKiosk(readerName string, st kiosk.Step, api bool, err error) {
	d.metrics.tapped("kiosk", st.Outcome.String(), string(st.Code))
	d.outcomes.add(TapRecord{Time: d.deps.Now(), Reader: readerName, Flow: "kiosk", Service: st.Service, API: api,
		Outcome: st.Outcome.String(), Code: string(st.Code), Card: st.CardNo, Amount: st.Amount, Balance: st.Balance,
		Recovered: st.Recovered, Load: st.LoadID, Error: errString(err)})
}

// kioskRoutes are the session API (docs/control.md), on the authorised
// side: whoever drives it moves money onto the card in the reader.
func (d *Daemon) kioskRoutes() []controlRoute {
	return []controlRoute{
		{"GET", "/v1/kiosk", accessCredential, "the kiosk's session: the card, its balance, what its account holds, the services and the last step",
			http.HandlerFunc(d.serveKioskView)},
		{"POST", "/v1/kiosk/claim", accessCredential, `{"session": ID, "amount": FEN}: claims (领取) that much of what waits (0 or none: all that fits)`,
			http.HandlerFunc(d.serveKioskClaim)},
		{"POST", "/v1/kiosk/transfer", accessCredential, `{"session": ID, "amount": FEN, "pin": "<holder PIN>"}: 银校转账 into the account, then loaded onto the card`,
			http.HandlerFunc(d.serveKioskTransfer)},
		{"POST", "/v1/kiosk/service", accessCredential, `{"session": ID, "trade": "change-pin"|"set-limit"|"unfreeze"|"reactivate"|"pay-fee"|"statement", "pin": ..., "new_pin", "national_id", "tx_limit", "order_id", "service", "reference", "amount", "count" as the trade needs}: the holder's self-service on the card; its card writes done and reported`,
			http.HandlerFunc(d.serveKioskService)},
		{"POST", "/v1/kiosk/report-loss", accessCredential, `{"account": "<student or staff number>", "pin": "<holder PIN>"}: 挂失 without the card`,
			http.HandlerFunc(d.serveKioskReportLoss)},
		{"POST", "/v1/desk/signin", accessCredential, `{"operator": "OP-07"}: a service desk's operator signs in: every trade and card write names them until /v1/desk/signout`,
			http.HandlerFunc(d.serveDeskSignIn)},
		{"POST", "/v1/desk/signout", accessCredential, `{}: the desk's operator signs out: every trade is refused until the next sign-in`,
			http.HandlerFunc(d.serveDeskSignOut)},
		{"POST", "/v1/kiosk/end", accessCredential, `{"session": ID}: ends the session (the holder pressed 退出): back to the start screen`,
			http.HandlerFunc(d.serveKioskEnd)},
	}
}

func (d *Daemon) serveKioskView(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, d.sessions.Current())
}

// kioskBody is the body of the session API's steps. PIN is the holder's;
// it goes to the card and the ledger and is never logged or echoed.
type kioskBody struct {
	Session string `json:"session"`
	Amount  int64  `json:"amount"`
	PIN     string `json:"pin"`
	// The self-service's fields (POST /v1/kiosk/service); NewPIN and
	// NationalID are never logged or echoed either.
	Trade      string `json:"trade,omitempty"`
	NewPIN     string `json:"new_pin,omitempty"`
	NationalID string `json:"national_id,omitempty"`
	TxLimit    int64  `json:"tx_limit,omitempty"`
	OrderID    string `json:"order_id,omitempty"`
	Service    string `json:"service,omitempty"`
	Reference  string `json:"reference,omitempty"`
	Count      int    `json:"count,omitempty"`
	Unblock    int    `json:"unblock,omitempty"`
}

// decodeKioskBody reads a step's body; its error never quotes the body
// (it may hold a PIN).
func decodeKioskBody(r io.Reader) (kioskBody, bool) {
	var b kioskBody
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.Decode(&struct{}{}) != io.EOF || b.Session == "" {
		return kioskBody{}, false
	}
	return b, true
}

// KioskAnswer is the answer of a session step.
type KioskAnswer struct {
	kiosk.Step
	Message string `json:"message"` // the display's two lines, 中文 / English
	Error   string `json:"error,omitempty"`
}

func (d *Daemon) serveKioskStep(w http.ResponseWriter, r *http.Request, step func(context.Context, kioskBody) (kiosk.Step, error)) {
	b, ok := decodeKioskBody(http.MaxBytesReader(w, r.Body, 1024))
	if !ok {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"session": ID, "amount": FEN, "pin": "..."} (amount and pin as the step needs)`)
		return
	}
	st, err := step(r.Context(), b)
	d.answerKioskStep(w, d.sessionReader(), st, err)
}

// answerKioskStep answers a step: the session API's errors, or the step
// recorded and answered with what the display showed.
func (d *Daemon) answerKioskStep(w http.ResponseWriter, readerName string, st kiosk.Step, err error) {
	switch {
	case errors.Is(err, kiosk.ErrNoSession):
		writeError(w, http.StatusNotFound, CtlNoSession, err.Error())
		return
	case errors.Is(err, kiosk.ErrBusy):
		writeError(w, http.StatusConflict, CtlSessionBusy, err.Error())
		return
	case errors.Is(err, kiosk.ErrBadRequest):
		writeError(w, http.StatusBadRequest, CtlBadRequest, err.Error())
		return
	case errors.Is(err, kiosk.ErrNoOperator):
		writeError(w, http.StatusForbidden, CtlNoOperator, err.Error())
		return
	}
	d.recordKiosk(readerName, st, true, err)
	out := KioskAnswer{Step: st, Message: st.Message.ZH + " / " + st.Message.EN}
	status := http.StatusOK
	if err != nil {
		out.Error, status = "the terminal failed; see the log", http.StatusInternalServerError
	}
	writeJSON(w, status, out)
}

func (d *Daemon) sessionReader() string { return d.sessions.Reader() }

func (d *Daemon) serveKioskClaim(w http.ResponseWriter, r *http.Request) {
	d.serveKioskStep(w, r, func(ctx context.Context, b kioskBody) (kiosk.Step, error) {
		if b.PIN != "" {
			return kiosk.Step{}, fmt.Errorf("%w: a claim takes no PIN", kiosk.ErrBadRequest)
		}
		return d.sessions.Claim(ctx, b.Session, b.Amount)
	})
}

func (d *Daemon) serveKioskTransfer(w http.ResponseWriter, r *http.Request) {
	d.serveKioskStep(w, r, func(ctx context.Context, b kioskBody) (kiosk.Step, error) {
		return d.sessions.Transfer(ctx, b.Session, b.Amount, b.PIN)
	})
}

// tradeByName maps the API's trade names to the protocol's.
func tradeByName(name string) (protocol.Trade, bool) {
	for t := protocol.TradeChangePIN; t <= protocol.TradeUnblock; t++ {
		if t.String() == name {
			return t, true
		}
	}
	return 0, false
}

func (d *Daemon) serveKioskService(w http.ResponseWriter, r *http.Request) {
	d.serveKioskStep(w, r, func(ctx context.Context, b kioskBody) (kiosk.Step, error) {
		t, ok := tradeByName(b.Trade)
		if !ok {
			return kiosk.Step{}, fmt.Errorf("%w: trade %q", kiosk.ErrBadRequest, b.Trade)
		}
		return d.sessions.Service(ctx, b.Session, kiosk.ServiceInput{Trade: t, PIN: b.PIN, NewPIN: b.NewPIN, NationalID: b.NationalID,
			TxLimit: b.TxLimit, OrderID: b.OrderID, Service: b.Service, Reference: b.Reference, Amount: b.Amount, Count: b.Count,
			Unblock: protocol.Unblock(b.Unblock)})
	})
}

// reportLossBody is POST /v1/kiosk/report-loss's body.
type reportLossBody struct {
	Account string `json:"account"`
	PIN     string `json:"pin"`
}

func (d *Daemon) serveKioskReportLoss(w http.ResponseWriter, r *http.Request) {
	var b reportLossBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 512))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"account": "...", "pin": "..."}`)
		return
	}
	st, err := d.sessions.ReportLoss(r.Context(), b.Account, b.PIN)
	d.answerKioskStep(w, "", st, err)
}

func (d *Daemon) serveDeskSignIn(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Operator string `json:"operator"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"operator": "..."}`)
		return
	}
	if err := d.sessions.SignIn(b.Operator); err != nil {
		writeError(w, http.StatusBadRequest, CtlBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"operator": b.Operator})
}

func (d *Daemon) serveDeskSignOut(w http.ResponseWriter, _ *http.Request) {
	d.sessions.SignOut()
	writeJSON(w, http.StatusOK, map[string]string{"operator": ""})
}

func (d *Daemon) serveKioskEnd(w http.ResponseWriter, r *http.Request) {
	b, ok := decodeKioskBody(http.MaxBytesReader(w, r.Body, 1024))
	if !ok {
		writeError(w, http.StatusBadRequest, CtlBadRequest, `body: want {"session": ID}`)
		return
	}
	if err := d.sessions.End(r.Context(), b.Session); err != nil {
		writeError(w, http.StatusNotFound, CtlNoSession, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d.sessions.Current())
}
