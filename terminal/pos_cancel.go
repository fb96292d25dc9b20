package terminal

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// CancelLast reverses the last completed sale for the cashier, within the
// configured window (config CancelWindow) and once. The card is not
// credited here (crediting needs the load key, which only the ledger
// holds): a purchase-reversed record naming the sale's intent and amount is
// journaled (fsync'd) and the ledger owes the amount back to the card as a
// pending load. It is never silent: refused after the window, a second time,
// or with no sale, with the reason on the display; the error reports a
// store failure.
func (p *POS) CancelLast(ctx context.Context) (Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	res, err := p.cancelLast()
	p.show(ctx, res.Message)
	p.log.Info("pos: cancel last sale", "card", res.CardNo, "outcome", res.Outcome.String(), "code", res.Code.String(),
		"amount", res.Amount, "intent", res.IntentID)
	if err != nil {
		p.log.Error("pos: cancel failed", "err", err)
	}
	return res, err
}

func (p *POS) cancelLast() (Result, error) {
	l := p.last
	switch {
	case l == nil:
		return refused("", CodeNothingToUndo), nil
	case l.Reversed:
		r := refused(l.CardNo, CodeAlreadyUndone)
		r.IntentID = l.IntentID
		return r, nil
	}
	if age := p.now().Sub(l.At); age > p.cfg.CancelWindow.D() || age < -p.cfg.CancelWindow.D() {
		r := refused(l.CardNo, CodeCancelExpired)
		r.IntentID = l.IntentID
		return r, nil
	}
	if _, err := p.store.Append(protocol.Record{
		Kind: protocol.KindPurchaseReversed, IntentID: l.IntentID, CardNo: l.CardNo, Amount: l.Amount, Reason: "cashier",
	}); err != nil {
		r := refused(l.CardNo, CodeStoreFault)
		return r, fmt.Errorf("terminal: cancel sale %d: %w", l.IntentID, err)
	}
	l.Reversed = true
	u := p.usage[l.CardNo]
	u.TodayFen = max(0, u.TodayFen-l.Amount)
	p.usage[l.CardNo] = u
	return Result{Outcome: Cancelled, Code: CodeSaleCancelled, Message: cancelledMessage(l.Amount),
		CardNo: l.CardNo, Amount: l.Amount, IntentID: l.IntentID}, nil
}
