package kiosk

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

// Startup prepares the kiosk after a start: it logs the load intents a
// previous run left, marks uncertain those still open (CREDIT FOR LOAD
// may have been sent before the stop), and confirms with the ledger the
// credited ones (a failure to reach it is logged: the next card or
// Confirm tries again). Each uncertain load is resolved when its card
// returns.
func (k *Kiosk) Startup(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	ls, err := k.store.Loads()
	if err != nil {
		return fmt.Errorf("kiosk: startup: %w", err)
	}
	for _, l := range ls {
		k.log.Warn("kiosk: load waiting", "load", l.LoadID, "intent", l.ID, "card", l.CardNo, "amount", l.Amount,
			"state", l.State.String(), "opened", l.Opened)
		if l.State != offline.LoadOpen {
			continue
		}
		if err := k.store.MarkLoadUncertain(l.ID, "restart"); err != nil {
			return fmt.Errorf("kiosk: startup: mark load %d uncertain: %w", l.ID, err)
		}
	}
	if err := k.confirmAll(ctx, ""); err != nil {
		return fmt.Errorf("kiosk: startup: %w", err)
	}
	return nil
}

// Confirm reports to the ledger every credited load it has not confirmed
// yet (the daemon calls it after the ledger was unreachable). It returns
// a store failure; an unreachable ledger is logged and tried again later.
func (k *Kiosk) Confirm(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.confirmAll(ctx, "")
}

// confirmAll confirms the credited loads (of cardNo, or all).
func (k *Kiosk) confirmAll(ctx context.Context, cardNo string) error {
	ls, err := k.store.Loads()
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.State != offline.LoadCredited || (cardNo != "" && l.CardNo != cardNo) || k.handOff[l.ID] {
			continue
		}
		if err := k.confirm(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// confirm reports a credited load's TAC to the ledger and, once the
// ledger took it, removes the intent. Only a store failure is returned.
func (k *Kiosk) confirm(ctx context.Context, l offline.Load) error {
	lctx, cancel := k.ledgerCtx(ctx)
	resp, err := k.ledger.ConfirmLoad(lctx, protocol.LoadConfirm{LoadID: l.LoadID, CardNo: l.CardNo,
		OnlineCounter: uint16(l.CardCounter), TAC: l.TAC, BalanceAfter: l.BalanceAfter})
	cancel()
	var pe *protocol.Error
	switch {
	case err == nil && resp.State == protocol.LoadCompleted:
	case err == nil:
		k.log.Error("kiosk: the ledger did not complete a credited load: left for the service desk",
			"load", l.LoadID, "card", l.CardNo, "state", resp.State.String())
		k.handOff[l.ID] = true
		return nil
	case errors.As(err, &pe):
		// A verdict, not an outage: the TAC does not verify, or the ledger
		// knows no such authorisation. The load record carries the TAC to
		// the ledger with the journal; the service desk settles it.
		k.log.Error("kiosk: the ledger refused a load's confirmation: left for the service desk",
			"load", l.LoadID, "card", l.CardNo, "err", err)
		k.handOff[l.ID] = true
		return nil
	default:
		k.log.Warn("kiosk: load not confirmed yet: the ledger did not answer", "load", l.LoadID, "card", l.CardNo, "err", err)
		return nil
	}
	if err := k.store.SettleLoad(l.ID); err != nil {
		return fmt.Errorf("kiosk: settle load %d: %w", l.ID, err)
	}
	return nil
}

// resolveCard settles the load intents this kiosk holds for the card in
// the field, oldest first: it confirms the credited ones and recovers the
// open and uncertain ones from the card. done is set when the tap ends
// with r: a torn load found credited (shown as such), a card that left,
// or a load the card cannot settle. A voided load is claimed again by the
// tap (the ledger re-authorises the same money at the same counter).
func (k *Kiosk) resolveCard(ctx context.Context, card reader.Card, info *cardread.Info) (r Result, done bool, err error) {
	if err := k.confirmAll(ctx, info.CardNo); err != nil {
		return refused(info.CardNo, CodeStoreFault), true, err
	}
	ls, err := k.store.Loads()
	if err != nil {
		return refused(info.CardNo, CodeStoreFault), true, fmt.Errorf("kiosk: loads: %w", err)
	}
	for _, l := range ls {
		if l.CardNo != info.CardNo || (l.State != offline.LoadOpen && l.State != offline.LoadUncertain) {
			continue
		}
		if k.handOff[l.ID] {
			r := refused(info.CardNo, CodeLoadUnresolved)
			r.LoadID = l.LoadID
			return r, true, nil
		}
		auth, aerr := authOf(l)
		if aerr != nil {
			k.log.Error("kiosk: load intent cannot be recovered from the card: settle it by hand", "intent", l.ID, "card", l.CardNo, "err", aerr)
			k.handOff[l.ID] = true
			r := refused(info.CardNo, CodeLoadUnresolved)
			r.LoadID = l.LoadID
			return r, true, nil
		}
		out := epurse.RecoverLoad(ctx, card, auth, l.KeyIndex, k.sam)
		k.log.Info("kiosk: recovered load", "intent", l.ID, "load", l.LoadID, "card", l.CardNo, "outcome", out.Kind.String(), "err", out.Err)
		res, err := k.settle(ctx, l, out, true)
		if err != nil || res.Outcome != Refused || res.Code != codeVoided {
			return res, true, err
		}
		// Voided: the card was not credited; the claim goes on.
	}
	return Result{}, false, nil
}

// codeVoided is settle's internal marker of a recovery that voided
// the load (the tap goes on to claim); it is never shown.
const codeVoided ui.Code = "voided"

// settle journals the outcome of CREDIT FOR LOAD (or of its recovery)
// for intent l and returns the result to show.
func (k *Kiosk) settle(ctx context.Context, l offline.Load, out epurse.LoadOutcome, recovering bool) (Result, error) {
	cardNo := l.CardNo
	switch out.Kind {
	case epurse.Done, epurse.DoneByLog:
		c := offline.LoadCompletion{BalanceAfter: int64(out.BalanceAfter), TAC: out.TAC[:]}
		if out.Kind == epurse.DoneByLog {
			c = offline.LoadCompletion{BalanceAfter: int64(out.BalanceAfter), ByLog: true}
			k.log.Warn("kiosk: torn load settled from the card's log: no TAC", "intent", l.ID, "load", l.LoadID, "card", cardNo)
		}
		r := Result{Outcome: Loaded, Code: CodeLoaded, CardNo: cardNo, Amount: l.Amount, Balance: int64(out.BalanceAfter),
			LoadID: l.LoadID, Recovered: recovering}
		r.Message = loadedMessage(r.Amount, r.Balance)
		if recovering {
			r.Code, r.Message = CodeEarlierLoad, earlierLoadMessage(r.Amount, r.Balance)
		}
		seq, err := k.store.CompleteLoad(l.ID, c)
		if err != nil {
			// The card holds the credit and the intent is durable: the
			// card's next visit (or the next start) settles it.
			return r, fmt.Errorf("kiosk: complete load %d: %w", l.ID, err)
		}
		if out.Kind == epurse.Done {
			l.State, l.BalanceAfter, l.TAC, l.Seq = offline.LoadCredited, c.BalanceAfter, c.TAC, seq
			k.show(ctx, r.Message) // the card holds its money: show it before the ledger's round trip
			if err := k.confirm(ctx, l); err != nil {
				return r, err
			}
		}
		return r, nil
	case epurse.Void, epurse.Refused:
		reason := "counter-unchanged"
		if out.Kind == epurse.Refused {
			reason = epurse.ReasonCode(out.Err)
		} else if out.LogRecord != (epurse.Record{}) {
			reason = "card-log-other-terminal"
		}
		if err := k.store.VoidLoad(l.ID, reason); err != nil {
			return refused(cardNo, CodeStoreFault), fmt.Errorf("kiosk: void load %d: %w", l.ID, err)
		}
		k.log.Warn("kiosk: load not credited", "intent", l.ID, "load", l.LoadID, "card", cardNo, "reason", reason, "err", out.Err)
		if recovering {
			return Result{Outcome: Refused, Code: codeVoided, CardNo: cardNo, LoadID: l.LoadID}, nil
		}
		r := refused(cardNo, CodeCardRefused)
		r.LoadID = l.LoadID
		return r, nil
	default: // Uncertain
		r := tapAgain(cardNo, CodeLoadTorn)
		r.LoadID = l.LoadID
		if recovering && !epurse.Transient(out.Err) {
			// The card cannot tell (counters that disagree, a log that
			// no longer reaches back, another card): stop and report.
			k.log.Error("kiosk: the card cannot settle the load: left uncertain for the service desk",
				"intent", l.ID, "load", l.LoadID, "card", cardNo, "err", out.Err)
			k.handOff[l.ID] = true
			r = refused(cardNo, CodeLoadUnresolved)
			r.LoadID = l.LoadID
			return r, nil
		}
		k.log.Warn("kiosk: load uncertain", "intent", l.ID, "load", l.LoadID, "card", cardNo, "err", out.Err)
		if l.State == offline.LoadOpen {
			if err := k.store.MarkLoadUncertain(l.ID, epurse.ReasonCode(out.Err)); err != nil {
				return r, fmt.Errorf("kiosk: mark load %d uncertain: %w", l.ID, err)
			}
		}
		return r, nil
	}
}

// authOf rebuilds the load's authorisation from its intent, for
// epurse.RecoverLoad.
func authOf(l offline.Load) (epurse.LoadAuthorization, error) {
	var a epurse.LoadAuthorization
	if len(l.CardSerial) != len(a.CardSerial) || len(l.TerminalID) != len(a.TermID) || len(l.TxTime) != len(a.Time) ||
		l.Amount <= 0 || l.Amount > math.MaxUint32 || l.BalanceBefore < 0 || l.BalanceBefore > math.MaxUint32 || l.CardCounter > math.MaxUint16 {
		return a, fmt.Errorf("kiosk: load intent %d: fields out of the card's range", l.ID)
	}
	copy(a.CardSerial[:], l.CardSerial)
	copy(a.TermID[:], l.TerminalID)
	copy(a.Time[:], l.TxTime)
	a.Amount, a.BalanceBefore, a.OnlineCounter = uint32(l.Amount), uint32(l.BalanceBefore), uint16(l.CardCounter)
	a.KeyVersion, a.Algorithm = l.KeyVersion, epurse.Algorithm(l.Algorithm)
	return a, nil
}
