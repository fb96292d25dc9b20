package kiosk

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/ui"
)

// claim asks the ledger what waits for the card and loads amount of it
// (0: all that fits under the purse limit).
func (k *Kiosk) claim(ctx context.Context, card reader.Card, info cardread.Info, amount int64) (Result, error) {
	if amount == 0 {
		// A load this kiosk authorised for the card and found not
		// credited: the ledger holds it for the card's online counter
		// (Pending does not list it) and gives the same load again for
		// the same amount at that counter.
		v, ok, err := k.voided(info.CardNo)
		if err != nil {
			return refused(info.CardNo, CodeStoreFault), err
		}
		if ok && v.Amount <= k.cfg.MaxBalanceFen-info.Balance {
			r, err := k.load(ctx, card, info, v.Amount)
			if err != nil || r.Code != CodeNothingPending {
				return r, err
			}
		}
	}
	lctx, cancel := k.ledgerCtx(ctx)
	p, err := k.ledger.Pending(lctx, info.CardNo)
	cancel()
	if err != nil {
		k.log.Warn("kiosk: pending loads not read", "card", info.CardNo, "err", err)
		return k.ledgerFailed(info, err), nil
	}
	amount, code := k.choose(p, info.Balance, amount)
	if code != "" {
		r := refused(info.CardNo, code)
		if code == CodeNothingPending {
			r.Outcome = Nothing
		}
		r.Balance = info.Balance
		r.Message = withBalance(r.Message, info.Balance)
		return r, nil
	}
	return k.load(ctx, card, info, amount)
}

// voided returns the newest voided or asking load intent of the card:
// money the ledger may hold authorised for the card's online counter.
func (k *Kiosk) voided(cardNo string) (offline.Load, bool, error) {
	ls, err := k.store.Loads()
	if err != nil {
		return offline.Load{}, false, fmt.Errorf("kiosk: loads: %w", err)
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

// choose picks what to load: asked (a single load or the total; 0 means
// the total, or else the oldest single load, that fits under the purse
// limit). A non-empty code refuses.
func (k *Kiosk) choose(p protocol.Pending, balance, asked int64) (int64, ui.Code) {
	if len(p.Loads) == 0 {
		return 0, CodeNothingPending
	}
	room := k.cfg.MaxBalanceFen - balance
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

// ledgerFailed is the result of a ledger that did not answer, or refused.
func (k *Kiosk) ledgerFailed(info cardread.Info, err error) Result {
	var pe *protocol.Error
	c := CodeLedgerOffline
	switch {
	case errors.Is(err, protocol.ErrNoPendingLoad):
		c = CodeNothingPending
	case errors.As(err, &pe):
		c = CodeLedgerRefused
	}
	r := refused(info.CardNo, c)
	if c == CodeNothingPending {
		r.Outcome = Nothing
	}
	r.Balance = info.Balance
	r.Message = withBalance(r.Message, info.Balance)
	return r
}

// host is the epurse.LoadHost of one claim: it asks the ledger for MAC2
// and makes the load intent durable before returning it, so that CREDIT
// FOR LOAD is never sent without it.
type host struct {
	k      *Kiosk
	cardNo string
	// opened is the intent committed, once MAC2 is known.
	opened *offline.Load
	// err is why no MAC2 was returned: the ledger's answer, or the
	// store's failure (then storeErr).
	err      error
	storeErr bool
}

func (h *host) AuthorizeLoad(ctx context.Context, a epurse.LoadAuthorization) ([4]byte, error) {
	k := h.k
	m := protocol.LoadInit{CardNo: h.cardNo, CardSerial: a.CardSerial[:], TerminalID: a.TermID[:],
		OnlineCounter: a.OnlineCounter, BalanceBefore: int64(a.BalanceBefore), Amount: int64(a.Amount),
		KeyIndex: byte(k.cfg.KeyIndex), KeyVersion: a.KeyVersion, Algorithm: byte(a.Algorithm),
		Random: a.Random[:], MAC1: a.MAC1[:], TxTime: a.Time[:]}
	// The intent is durable before the ledger is asked: a power cut after
	// the ledger authorised the money must not leave it unknown here.
	begun, err := k.store.BeginLoad(offline.LoadIntent{
		CardNo: h.cardNo, Amount: int64(a.Amount), BalanceBefore: int64(a.BalanceBefore),
		CardCounter: uint32(a.OnlineCounter), TerminalID: a.TermID[:], TxTime: a.Time[:],
		CardSerial: a.CardSerial[:], KeyIndex: byte(k.cfg.KeyIndex), KeyVersion: a.KeyVersion,
		Algorithm: byte(a.Algorithm),
	})
	if err != nil {
		h.err, h.storeErr = err, true
		return [4]byte{}, fmt.Errorf("kiosk: load intent: %w", err)
	}
	lctx, cancel := k.ledgerCtx(ctx)
	resp, err := k.ledger.InitLoad(lctx, m)
	cancel()
	if err != nil {
		h.err = err
		var pe *protocol.Error
		if errors.As(err, &pe) {
			// A verdict: the ledger authorised nothing.
			if derr := k.store.DropLoad(begun.ID); derr != nil {
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
	l, err := k.store.AuthorizeLoad(begun.ID, resp.LoadID, resp.MAC2)
	if err != nil {
		// No CREDIT without the intent: it stays asking, and the card's
		// next claim asks the ledger for the same load again.
		h.err, h.storeErr = err, true
		return [4]byte{}, fmt.Errorf("kiosk: load intent: %w", err)
	}
	h.opened = &l
	return [4]byte(resp.MAC2), nil
}

// load runs one load of amount onto the card and settles its intent.
func (k *Kiosk) load(ctx context.Context, card reader.Card, info cardread.Info, amount int64) (Result, error) {
	tid, err := k.sam.TerminalID(ctx)
	if err != nil {
		return refused(info.CardNo, CodeSAMFault), fmt.Errorf("kiosk: terminal id: %w", err)
	}
	h := &host{k: k, cardNo: info.CardNo}
	out := epurse.Load(ctx, card, h, epurse.LoadRequest{
		Amount: uint32(amount), Time: epurse.NewDateTime(k.now().In(k.loc)), TermID: tid,
		KeyIndex: byte(k.cfg.KeyIndex), CardSerial: info.Public.Factor(), PIN: k.sam,
	})
	if h.opened == nil {
		return k.notAuthorised(info, h, out)
	}
	return k.settle(ctx, *h.opened, out, false)
}

// notAuthorised maps a load that ended before CREDIT was sent: nothing
// was credited.
func (k *Kiosk) notAuthorised(info cardread.Info, h *host, out epurse.LoadOutcome) (Result, error) {
	err := out.Err
	var pe *epurse.PINError
	r := func(c ui.Code) Result {
		res := refused(info.CardNo, c)
		res.Balance = info.Balance
		res.Message = withBalance(res.Message, info.Balance)
		return res
	}
	switch {
	case h.storeErr && errors.Is(h.err, offline.ErrStorageFull):
		return r(CodeStorageFull), h.err
	case h.storeErr:
		return r(CodeStoreFault), h.err
	case h.err != nil:
		k.log.Warn("kiosk: ledger did not authorise the load", "card", info.CardNo, "err", h.err)
		return k.ledgerFailed(info, h.err), nil
	case errors.As(err, &pe), errors.Is(err, epurse.ErrLocked):
		k.log.Error("kiosk: the card refused the system PIN", "card", info.CardNo, "err", err)
		return r(CodeSystemPINFailed), nil
	case errors.Is(err, epurse.ErrNoSystemPIN):
		return r(CodeSAMFault), fmt.Errorf("kiosk: system PIN: %w", err)
	case errors.Is(err, reader.ErrCardRemoved), errors.Is(err, reader.ErrTimeout),
		errors.Is(err, reader.ErrTransport), errors.Is(err, reader.ErrMalformed):
		k.log.Warn("kiosk: card lost before the credit", "card", info.CardNo, "err", err)
		return tapAgain(info.CardNo, CodeTapAgain), nil
	}
	var se *reader.StatusError
	if errors.As(err, &se) && se.SW == reader.SWWrongData {
		return r(CodePurseLimit), nil // the card's own maximum balance
	}
	k.log.Warn("kiosk: card refused the load", "card", info.CardNo, "err", err)
	return r(CodeCardRefused), nil
}
