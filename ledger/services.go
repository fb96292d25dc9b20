package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// The holder's self-service and the service desk (issue 15,
// docs/protocol.md §8.4). Every trade is a device's signed ServiceRequest,
// idempotent by the device and its request id: the ledger stores the
// answer (or the refusal) in the same transaction as the trade's effects,
// so that the same request again, also after a crash between that commit
// and the answer, gets the same answer and never a second effect.
//
// Authority: a kiosk runs the holder's trades (1–8) with the holder's PIN
// (and ID number for 解挂); a desk runs them and its own (9–11), each
// request naming the operator signed in at the desk, stored with every
// effect; any other device kind is refused (malformed), as is a desk
// request without an operator or a kiosk request with one.

var bucketTrades = []byte("trades") // device ‖ 0 ‖ hex(request id) → JSON tradeRecord

// tradeRecord is a trade done or refused, for its replays.
type tradeRecord struct {
	Trade    protocol.Trade  `json:"trade"`
	Device   string          `json:"device"`
	Operator string          `json:"operator,omitempty"`
	Print    []byte          `json:"print"` // SHA-256 of the request without its secrets
	Account  string          `json:"account,omitempty"`
	Card     string          `json:"card,omitempty"`
	Created  time.Time       `json:"created"`
	Answer   []byte          `json:"answer,omitempty"` // the canonical ServiceAnswer
	Refusal  *protocol.Error `json:"refusal,omitempty"`
}

// trade is one trade being done.
type trade struct {
	ctx    context.Context
	req    *protocol.ServiceRequest
	device string
	ref    string // device/request id, for the records it makes
	now    time.Time
	ans    protocol.ServiceAnswer
}

// printOf is the fingerprint of a request: its JSON form, where the PINs
// and the ID number are "******" (protocol.SecretPIN, SecretID), hashed.
// It tells a retry from another request reusing the id, and holds no
// secret (nothing to guess a PIN from).
func printOf(req *protocol.ServiceRequest) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("ledger: service: %w", err)
	}
	s := sha256.Sum256(b)
	return s[:], nil
}

// refusal returns err as the protocol Error to answer, with the tries
// left or the lockout's end, keeping err as its cause.
func refusal(err error, triesLeft int, until time.Time) error {
	pe := protocol.Errorf(wireError(err).Code, "%w", err)
	pe.TriesLeft = triesLeft
	if !until.IsZero() {
		pe.Until = until.Unix()
	}
	return pe
}

// checkAuthority says whether device d may ask for the trade of req.
func checkAuthority(d Device, req *protocol.ServiceRequest) error {
	switch {
	case d.Kind != "kiosk" && d.Kind != "desk":
		return fmt.Errorf("ledger: service %s: device %s is a %s: only a kiosk or a desk: %w", req.Trade, d.ID, d.Kind, ErrMalformed)
	case d.Kind == "desk" && req.Operator == "":
		return fmt.Errorf("ledger: service %s: a desk request names its operator: %w", req.Trade, ErrMalformed)
	case d.Kind == "kiosk" && req.Operator != "":
		return fmt.Errorf("ledger: service %s: a kiosk has no operator: %w", req.Trade, ErrMalformed)
	case d.Kind == "kiosk" && req.Trade.DeskOnly():
		return fmt.Errorf("ledger: service %s: at a service desk only: %w", req.Trade, ErrMalformed)
	}
	return nil
}

var tradeFuncs = map[protocol.Trade]func(l *Ledger, tx *bolt.Tx, t *trade) error{
	protocol.TradeChangePIN:    (*Ledger).changePIN,
	protocol.TradeSetLimit:     (*Ledger).setLimit,
	protocol.TradeReportLoss:   (*Ledger).reportLoss,
	protocol.TradeUnfreeze:     (*Ledger).unfreeze,
	protocol.TradeReactivate:   (*Ledger).reactivate,
	protocol.TradePayFee:       (*Ledger).payFee,
	protocol.TradeFeeOrder:     (*Ledger).feeOrder,
	protocol.TradeStatement:    (*Ledger).statement,
	protocol.TradeResetPIN:     (*Ledger).resetPIN,
	protocol.TradeUnblock:      (*Ledger).unblock,
	protocol.TradeCloseAccount: (*Ledger).closeAccount,
}

// Service does the trade device asks for in req (decoded and verified:
// protocol.OpenFromDevice) and returns its answer, or its refusal: a
// *protocol.Error whose code says why (docs/protocol.md §8.6), with
// TriesLeft or Until where they apply, wrapping the ledger's sentinel. The
// same device and request id again gets the same answer or refusal and
// changes nothing; the same request id with another request is
// ErrMalformed. Refusals that change nothing but the tries counted
// (wrong PIN, wrong ID number) are kept like answers; malformed requests
// and internal failures are not (nothing happened).
func (l *Ledger) Service(ctx context.Context, device string, req protocol.ServiceRequest) (protocol.ServiceAnswer, error) {
	if err := req.Validate(); err != nil || req.DeviceID != device {
		return protocol.ServiceAnswer{}, fmt.Errorf("ledger: service: %w: %v", ErrMalformed, err)
	}
	d, err := l.Device(device)
	if errors.Is(err, ErrNotFound) {
		err = ErrUnknownDevice
	}
	if err == nil && !d.Revoked.IsZero() {
		err = ErrRevoked
	}
	if err != nil {
		return protocol.ServiceAnswer{}, fmt.Errorf("ledger: service: device %s: %w", device, err)
	}
	if err := checkAuthority(d, &req); err != nil {
		return protocol.ServiceAnswer{}, err
	}
	fp, err := printOf(&req)
	if err != nil {
		return protocol.ServiceAnswer{}, err
	}
	key := transferKey(device, req.RequestID)
	t := &trade{ctx: ctx, req: &req, device: device, ref: device + "/" + hex.EncodeToString(req.RequestID), now: l.now(),
		ans: protocol.ServiceAnswer{RequestID: req.RequestID, Trade: req.Trade}}
	var rec tradeRecord
	replay := false
	var refused error
	err = l.db.Update(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTrades)
		if err := getJSON(tb, key, &rec); err == nil {
			if string(rec.Print) != string(fp) {
				return fmt.Errorf("ledger: service: request id reused for another request: %w", ErrMalformed)
			}
			replay = true
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		terr := tradeFuncs[req.Trade](l, tx, t)
		rec = tradeRecord{Trade: req.Trade, Device: device, Operator: req.Operator, Print: fp, Account: t.ans.Account,
			Card: t.ans.CardNo, Created: t.now.UTC()}
		if terr != nil {
			pe := wireError(terr)
			if pe.Code == protocol.CodeInternal || pe.Code == protocol.CodeMalformed {
				return terr // nothing happened: nothing kept
			}
			refused = terr
			rec.Refusal = &protocol.Error{Code: pe.Code, Message: pe.Message, TriesLeft: pe.TriesLeft, Until: pe.Until}
		} else {
			b, err := t.ans.Encode()
			if err != nil {
				return fmt.Errorf("ledger: service %s: answer: %w", req.Trade, err)
			}
			rec.Answer = b
		}
		return putJSON(tb, key, rec)
	})
	if err != nil {
		return protocol.ServiceAnswer{}, err
	}
	if !replay {
		code := "done"
		if rec.Refusal != nil {
			code = rec.Refusal.Code.String()
		}
		l.log.Info("service trade", "trade", req.Trade.String(), "device", device, "operator", req.Operator,
			"account", rec.Account, "card", rec.Card, "outcome", code)
	}
	switch {
	case refused != nil:
		return protocol.ServiceAnswer{}, refused
	case rec.Refusal != nil:
		e := *rec.Refusal
		return protocol.ServiceAnswer{}, &e
	}
	ans, err := protocol.DecodeServiceAnswer(rec.Answer)
	if err != nil {
		return protocol.ServiceAnswer{}, fmt.Errorf("ledger: service: stored answer: %w: %w", ErrCorrupt, err)
	}
	return ans, nil
}

// cardAccount returns the account of card for a trade with the card: not
// found ErrNoAccount, a replaced card accounts.ErrCancelled.
func cardAccount(tx *bolt.Tx, card string) (accounts.Account, error) {
	a, ok, err := accountOfCard(tx, card)
	switch {
	case err != nil:
		return accounts.Account{}, err
	case !ok:
		return accounts.Account{}, fmt.Errorf("ledger: card %s: %w", card, ErrNoAccount)
	case a.Card != card:
		return accounts.Account{}, fmt.Errorf("ledger: card %s was replaced by %s: %w", card, a.Card, accounts.ErrCancelled)
	case a.State == accounts.Cancelled:
		return accounts.Account{}, fmt.Errorf("ledger: account %s: %w", a.ID, accounts.ErrCancelled)
	}
	return a, nil
}

// holderPIN checks the holder's PIN against a (the wrong try counted and
// stored: the trade's refusal commits it), with the tries left.
func (l *Ledger) holderPIN(tx *bolt.Tx, a *accounts.Account, pin []byte, now time.Time) error {
	err := l.checkPINTx(a, pin)
	if perr := putAccount(tx, a, now); perr != nil {
		return perr
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPINInvalid):
		return refusal(err, accounts.MaxPINTries-a.PINTries, time.Time{})
	}
	return refusal(err, 0, time.Time{})
}

// describe fills the answer's account fields from a.
func (t *trade) describe(a *accounts.Account) {
	t.ans.Account, t.ans.CardNo, t.ans.State = a.ID, a.Card, string(a.State)
	t.ans.Balance, t.ans.Loadable, t.ans.TxLimit, t.ans.ValidUntil = a.Balance, a.Loadable, a.TxLimit, a.ValidUntil
}

// write makes a pending card write of the trade and adds it to the answer.
func (t *trade) write(tx *bolt.Tx, a *accounts.Account, w CardWrite) (CardWrite, error) {
	w.Card, w.Account, w.Trade, w.Ref, w.Operator = a.Card, a.ID, t.req.Trade, t.ref, t.req.Operator
	if err := newWriteTx(tx, &w, false, t.now); err != nil {
		return CardWrite{}, err
	}
	t.ans.Writes = append(t.ans.Writes, w.Wire())
	return w, nil
}
