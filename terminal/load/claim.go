package load

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/ui"
)

// Claim loads onto the card in the field what the ledger holds for it:
// asked fen (one of the loads waiting for a card without an account, or
// their total; for a card with an account any amount of what it holds),
// or with asked 0 all that fits under the purse limit. Call Resolve
// first. A ledger that does not answer, or refuses, refuses the claim
// with the reason's code before the card is asked to load. err is a
// terminal fault (store, SAM).
func (e *Engine) Claim(ctx context.Context, card reader.Card, info cardread.Info, asked int64) (Result, error) {
	if e.ledger == nil {
		return withBalance(refused(info.CardNo, CodeLedgerOffline), info.Balance), ErrNoLedger
	}
	if asked == 0 {
		if r, done, err := e.Reclaim(ctx, card, info); done || err != nil {
			return r, err
		}
	}
	c, err := e.Ask(ctx, info)
	if err != nil {
		return e.ledgerFailed(info, err), nil
	}
	c = e.Settle(ctx, card, info, c)
	return e.ClaimWith(ctx, card, info, c, asked)
}

// Reclaim loads again, at the card's same online counter, the newest
// load this device was authorised for the card and found not credited
// (voided), or whose authorisation it never heard back (asking): the
// ledger holds that load for the card's counter (Claims does not count
// it) and gives the same load again for the same amount. done is false
// when there is none, it does not fit, or the ledger holds it no more:
// the claim goes on with Ask.
func (e *Engine) Reclaim(ctx context.Context, card reader.Card, info cardread.Info) (r Result, done bool, err error) {
	if e.ledger == nil {
		return Result{}, false, nil
	}
	v, ok, err := e.voided(info.CardNo)
	if err != nil {
		return refused(info.CardNo, CodeStoreFault), true, err
	}
	if !ok || v.Amount > e.room(info.Balance) {
		return Result{}, false, nil
	}
	r, err = e.Load(ctx, card, info, v.Amount)
	if err == nil && r.Code == CodeNothingPending {
		return Result{}, false, nil
	}
	return r, true, err
}

// Ask asks the ledger, within the claims timeout, what the card may
// claim now.
func (e *Engine) Ask(ctx context.Context, info cardread.Info) (protocol.Claims, error) {
	if e.ledger == nil {
		return protocol.Claims{}, ErrNoLedger
	}
	cctx, cancel := context.WithTimeout(ctx, e.claimsTimeout)
	defer cancel()
	c, err := e.ledger.Claims(cctx, info.CardNo, info.Balance)
	if err != nil {
		return protocol.Claims{}, fmt.Errorf("load: claims of card %s: %w", info.CardNo, err)
	}
	return c, nil
}

// ClaimWith is Claim with the ledger's answer c already asked (Ask).
func (e *Engine) ClaimWith(ctx context.Context, card reader.Card, info cardread.Info, c protocol.Claims, asked int64) (Result, error) {
	amount, r, ok := e.choose(ctx, info, c, asked)
	if !ok {
		return r, nil
	}
	return e.Load(ctx, card, info, amount)
}

// room is what fits on a card of balance under the device's limit.
func (e *Engine) room(balance int64) int64 {
	if e.maxBalance == 0 {
		return math.MaxInt64
	}
	return e.maxBalance - balance
}

// voided returns the newest voided or asking load intent of the card.
func (e *Engine) voided(cardNo string) (offline.Load, bool, error) {
	ls, err := e.store.Loads()
	if err != nil {
		return offline.Load{}, false, fmt.Errorf("load: loads: %w", err)
	}
	var v offline.Load
	found := false
	for _, l := range ls {
		if l.CardNo == cardNo && (l.State == offline.LoadVoided || l.State == offline.LoadAsking) {
			v, found = l, true
		}
	}
	return v, found, nil
}

// choose picks what to load given the ledger's answer c; ok false
// refuses (or finds nothing) with r.
func (e *Engine) choose(ctx context.Context, info cardread.Info, c protocol.Claims, asked int64) (amount int64, r Result, ok bool) {
	no := func(code ui.Code) (int64, Result, bool) {
		r := withBalance(refused(info.CardNo, code), info.Balance)
		if code == CodeNothingPending {
			r.Outcome = Nothing
		}
		return 0, r, false
	}
	switch {
	case c.Refusal != 0:
		r := withBalance(refused(info.CardNo, RefusalCode(c.Refusal)), info.Balance)
		r.Refusal = c.Refusal
		if c.Refusal == protocol.CodeNoPendingLoad {
			r.Outcome = Nothing
		}
		return 0, r, false
	case c.Loadable == 0:
		return no(CodeNothingPending)
	}
	room := e.room(info.Balance)
	if c.Account == "" && e.lister != nil {
		lctx, cancel := context.WithTimeout(ctx, e.ledgerTimeout)
		p, err := e.lister.Pending(lctx, info.CardNo)
		cancel()
		if err != nil {
			return 0, e.ledgerFailed(info, fmt.Errorf("load: pending loads of card %s: %w", info.CardNo, err)), false
		}
		a, code := choosePending(p, room, asked)
		if code != "" {
			return no(code)
		}
		return a, Result{}, true
	}
	claimable := min(c.Claimable, room)
	switch {
	case asked < 0 || asked > c.Loadable || (c.Account == "" && asked != 0 && asked != c.Loadable):
		// A card without an account loads the total of its loads here
		// (the ledger merges them); one of them needs the list.
		return no(CodeInvalidAmount)
	case asked > 0 && asked > claimable:
		return no(CodePurseLimit)
	case asked > 0:
		return asked, Result{}, true
	case c.Account == "" && c.Claimable > room, claimable <= 0:
		return no(CodePurseLimit)
	}
	return claimable, Result{}, true
}

// choosePending picks among a card's single loads: asked (one of them or
// their total; 0 means the total, or else the oldest single load, that
// fits in room). A non-empty code refuses.
func choosePending(p protocol.Pending, room, asked int64) (int64, ui.Code) {
	if len(p.Loads) == 0 {
		return 0, CodeNothingPending
	}
	fits := func(a int64) bool { return a > 0 && a <= room }
	total := p.Total()
	if asked != 0 {
		ok := asked == total
		for _, l := range p.Loads {
			ok = ok || l.Amount == asked
		}
		switch {
		case !ok:
			return 0, CodeInvalidAmount
		case !fits(asked):
			return 0, CodePurseLimit
		}
		return asked, ""
	}
	if fits(total) {
		return total, ""
	}
	for _, l := range p.Loads {
		if fits(l.Amount) {
			return l.Amount, ""
		}
	}
	return 0, CodePurseLimit
}

// ledgerFailed is the result of a ledger that did not answer, or refused
// (each refusal with its own code).
func (e *Engine) ledgerFailed(info cardread.Info, err error) Result {
	var pe *protocol.Error
	c := CodeLedgerOffline
	var refusal protocol.Code
	if errors.As(err, &pe) {
		refusal = pe.Code
		c = RefusalCode(pe.Code)
	}
	r := withBalance(refused(info.CardNo, c), info.Balance)
	r.Refusal = refusal
	if c == CodeNothingPending {
		r.Outcome = Nothing
	}
	if c == CodeLedgerOffline {
		e.log.Debug("load: the ledger did not answer", "card", info.CardNo, "err", err)
	} else {
		e.log.Info("load: the ledger refused the load", "card", info.CardNo, "code", string(c), "err", err)
	}
	return r
}

// host is the epurse.LoadHost of one claim: it asks the ledger for MAC2
// and makes the load intent durable before returning it, so that CREDIT
// FOR LOAD is never sent without it.
type host struct {
	e      *Engine
	cardNo string
	// opened is the intent committed, once MAC2 is known.
	opened *offline.Load
	// err is why no MAC2 was returned: the ledger's answer, or the
	// store's failure (then storeErr).
	err      error
	storeErr bool
}

func (h *host) AuthorizeLoad(ctx context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	e := h.e
	m := protocol.LoadInit{CardNo: h.cardNo, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount),
		KeyIndex: e.keyIndex, KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm),
		Random: a.Random[:], MAC1: a.MAC1[:], TxTime: a.Time[:]}
	// The intent is durable before the ledger is asked: a power cut after
	// the ledger authorised the money must not leave it unknown here.
	begun, err := e.store.BeginLoad(offline.LoadIntent{
		CardNo: h.cardNo, Amount: int64(a.Amount), BalanceBefore: int64(a.BalanceBefore),
		CardCounter: uint32(a.OnlineCounter), TerminalID: a.TermID[:], TxTime: a.Time[:],
		CardSerial: a.CardSerial[:], KeyIndex: e.keyIndex, KeyVersion: a.KeyVersion,
		Algorithm: byte(a.Algorithm),
	})
	if err != nil {
		h.err, h.storeErr = err, true
		return [4]byte{}, fmt.Errorf("load: intent: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, e.ledgerTimeout)
	resp, err := e.ledger.InitLoad(lctx, m)
	cancel()
	if err != nil {
		h.err = err
		var pe *protocol.Error
		if errors.As(err, &pe) {
			// A verdict: the ledger authorised nothing.
			if derr := e.store.DropLoad(begun.ID); derr != nil {
				h.err, h.storeErr = derr, true
			}
		}
		// Else the answer was lost: the intent stays asking and the
		// card's next claim asks for the same amount again.
		if errors.Is(err, protocol.ErrMACInvalid) {
			return [4]byte{}, fmt.Errorf("%w: %w", epurse.ErrMACInvalid, err) // LoadHost's contract
		}
		return [4]byte{}, err
	}
	l, err := e.store.AuthorizeLoad(begun.ID, resp.LoadID, resp.MAC2)
	if err != nil {
		// No CREDIT without the intent: it stays asking, and the card's
		// next claim asks the ledger for the same load again.
		h.err, h.storeErr = err, true
		return [4]byte{}, fmt.Errorf("load: intent: %w", err)
	}
	h.opened = &l
	return [4]byte(resp.MAC2), nil
}

// Load runs one load of amount onto the card and settles its intent.
func (e *Engine) Load(ctx context.Context, card reader.Card, info cardread.Info, amount int64) (Result, error) {
	if e.ledger == nil {
		return withBalance(refused(info.CardNo, CodeLedgerOffline), info.Balance), ErrNoLedger
	}
	if amount <= 0 || amount > math.MaxUint32 {
		return withBalance(refused(info.CardNo, CodeInvalidAmount), info.Balance), nil
	}
	tid, err := e.sam.TerminalID(ctx)
	if err != nil {
		return refused(info.CardNo, CodeSAMFault), fmt.Errorf("load: terminal id: %w", err)
	}
	h := &host{e: e, cardNo: info.CardNo}
	out := epurse.Load(ctx, card, h, epurse.LoadRequest{
		Amount: uint32(amount), Time: epurse.NewDateTime(e.now().In(e.loc)), TermID: tid,
		KeyIndex: e.keyIndex, CardSerial: info.Public.Factor(), PIN: e.sam,
	})
	if h.opened == nil {
		return e.notAuthorised(info, h, out)
	}
	return e.settle(ctx, *h.opened, out, false)
}

// notAuthorised maps a load that ended before CREDIT was sent: nothing
// was credited.
func (e *Engine) notAuthorised(info cardread.Info, h *host, out epurse.LoadOutcome) (Result, error) {
	err := out.Err
	var pe *epurse.PINError
	r := func(c ui.Code) Result { return withBalance(refused(info.CardNo, c), info.Balance) }
	switch {
	case h.storeErr && errors.Is(h.err, offline.ErrStorageFull):
		return r(CodeStorageFull), h.err
	case h.storeErr:
		return r(CodeStoreFault), h.err
	case h.err != nil:
		return e.ledgerFailed(info, fmt.Errorf("load: authorisation of card %s: %w", info.CardNo, h.err)), nil
	case errors.As(err, &pe), errors.Is(err, epurse.ErrLocked):
		e.log.Error("load: the card refused the system PIN", "card", info.CardNo, "err", err)
		return r(CodeSystemPINFailed), nil
	case errors.Is(err, epurse.ErrNoSystemPIN):
		return r(CodeSAMFault), fmt.Errorf("load: system PIN: %w", err)
	case errors.Is(err, reader.ErrCardRemoved), errors.Is(err, reader.ErrTimeout),
		errors.Is(err, reader.ErrTransport), errors.Is(err, reader.ErrMalformed):
		e.log.Warn("load: card lost before the credit", "card", info.CardNo, "err", err)
		return tapAgain(info.CardNo, CodeTapAgain), nil
	}
	var se *reader.StatusError
	if errors.As(err, &se) && se.SW == reader.SWWrongData {
		return r(CodePurseLimit), nil // the card's own maximum balance
	}
	e.log.Warn("load: card refused the load", "card", info.CardNo, "err", err)
	return r(CodeCardRefused), nil
}
