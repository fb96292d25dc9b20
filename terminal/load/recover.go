package load

import (
	"context"
	"fmt"
	"math"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/ui"
)

// Resolve settles the load intents this device holds for the card in the
// field, oldest first: it confirms the credited ones and recovers the
// open and uncertain ones from the card. done is set when the tap's
// claim ends with r: a torn load found credited (r.Outcome Loaded,
// r.Recovered; info.Balance is then the card's balance), a card that
// left, or a load the card cannot settle (CodeLoadUnresolved). A voided
// load is not done: the tap goes on to Claim (the ledger re-authorises
// the same money at the same counter). err is a store failure.
func (e *Engine) Resolve(ctx context.Context, card reader.Card, info *cardread.Info) (r Result, done bool, err error) {
	if err := e.confirmAll(ctx, info.CardNo); err != nil {
		return refused(info.CardNo, CodeStoreFault), true, err
	}
	ls, err := e.store.Loads()
	if err != nil {
		return refused(info.CardNo, CodeStoreFault), true, fmt.Errorf("load: loads: %w", err)
	}
	for _, l := range ls {
		if l.CardNo != info.CardNo || (l.State != offline.LoadOpen && l.State != offline.LoadUncertain) {
			continue
		}
		if e.handOff[l.ID] {
			r := refused(info.CardNo, CodeLoadUnresolved)
			r.LoadID = l.LoadID
			return r, true, nil
		}
		auth, aerr := authOf(l)
		if aerr != nil {
			e.log.Error("load: intent cannot be recovered from the card: settle it by hand", "intent", l.ID, "card", l.CardNo, "err", aerr)
			e.handOff[l.ID] = true
			r := refused(info.CardNo, CodeLoadUnresolved)
			r.LoadID = l.LoadID
			return r, true, nil
		}
		out := epurse.RecoverLoad(ctx, card, auth, l.KeyIndex, e.sam)
		e.log.Info("load: recovered", "intent", l.ID, "load", l.LoadID, "card", l.CardNo, "outcome", out.Kind.String(), "err", out.Err)
		if out.Kind == epurse.Uncertain && !epurse.Transient(out.Err) {
			// The card cannot tell (used at another device since): the
			// ledger may know from the counter it showed there.
			settled, err := e.settleByLedger(ctx, l)
			if err != nil {
				return refused(info.CardNo, CodeStoreFault), true, err
			}
			if settled {
				continue
			}
		}
		res, err := e.settle(ctx, l, out, true)
		if res.Outcome == Loaded {
			info.Balance = res.Balance
		}
		if err != nil || res.Outcome != Refused || res.Code != codeVoided {
			return res, true, err
		}
		// Voided: the card was not credited; the claim goes on.
	}
	return Result{}, false, nil
}

// Unresolved reports whether the card has a load intent this device gave
// up on (left for the service desk): a POS does not claim for it.
func (e *Engine) Unresolved(cardNo string) (bool, error) {
	ls, err := e.store.Loads()
	if err != nil {
		return false, fmt.Errorf("load: loads: %w", err)
	}
	for _, l := range ls {
		if l.CardNo == cardNo && e.handOff[l.ID] {
			return true, nil
		}
	}
	return false, nil
}

// codeVoided is settle's internal marker of a recovery that voided
// the load (the tap goes on to claim); it is never shown.
const codeVoided ui.Code = "voided"

// settle journals the outcome of CREDIT FOR LOAD (or of its recovery)
// for intent l and returns the result to show.
func (e *Engine) settle(ctx context.Context, l offline.Load, out epurse.LoadOutcome, recovering bool) (Result, error) {
	cardNo := l.CardNo
	switch out.Kind {
	case epurse.Done, epurse.DoneByLog:
		c := offline.LoadCompletion{BalanceAfter: int64(out.BalanceAfter), TAC: out.TAC[:]}
		if out.Kind == epurse.DoneByLog {
			c = offline.LoadCompletion{BalanceAfter: int64(out.BalanceAfter), ByLog: true}
			e.log.Warn("load: torn load settled from the card's log: no TAC", "intent", l.ID, "load", l.LoadID, "card", cardNo)
		}
		r := Result{Outcome: Loaded, Code: CodeLoaded, CardNo: cardNo, Amount: l.Amount, Balance: int64(out.BalanceAfter),
			LoadID: l.LoadID, Recovered: recovering}
		r.Message = LoadedMessage(r.Amount, r.Balance)
		if recovering {
			r.Code, r.Message = CodeEarlierLoad, EarlierLoadMessage(r.Amount, r.Balance)
		}
		seq, err := e.store.CompleteLoad(l.ID, c)
		if err != nil {
			// The card holds the credit and the intent is durable: the
			// card's next visit (or the next start) settles it.
			return r, fmt.Errorf("load: complete load %d: %w", l.ID, err)
		}
		if out.Kind == epurse.Done {
			l.State, l.BalanceAfter, l.TAC, l.Seq = offline.LoadCredited, c.BalanceAfter, c.TAC, seq
			e.show(ctx, r.Message) // the card holds its money: show it before the ledger's round trip
			if err := e.confirm(ctx, l); err != nil {
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
		if err := e.store.VoidLoad(l.ID, reason); err != nil {
			return refused(cardNo, CodeStoreFault), fmt.Errorf("load: void load %d: %w", l.ID, err)
		}
		e.log.Warn("load: not credited", "intent", l.ID, "load", l.LoadID, "card", cardNo, "reason", reason, "err", out.Err)
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
			e.log.Error("load: the card cannot settle the load: left uncertain for the service desk",
				"intent", l.ID, "load", l.LoadID, "card", cardNo, "err", out.Err)
			e.handOff[l.ID] = true
			r = refused(cardNo, CodeLoadUnresolved)
			r.LoadID = l.LoadID
			return r, nil
		}
		e.log.Warn("load: uncertain", "intent", l.ID, "load", l.LoadID, "card", cardNo, "err", out.Err)
		if l.State == offline.LoadOpen {
			if err := e.store.MarkLoadUncertain(l.ID, epurse.ReasonCode(out.Err)); err != nil {
				return r, fmt.Errorf("load: mark load %d uncertain: %w", l.ID, err)
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
		return a, fmt.Errorf("load: intent %d: fields out of the card's range", l.ID)
	}
	copy(a.CardSerial[:], l.CardSerial)
	copy(a.TermID[:], l.TerminalID)
	copy(a.Time[:], l.TxTime)
	a.Amount, a.BalanceBefore, a.OnlineCounter = uint32(l.Amount), uint32(l.BalanceBefore), uint16(l.CardCounter)
	a.KeyVersion, a.Algorithm = l.KeyVersion, epurse.Algorithm(l.Algorithm)
	return a, nil
}
