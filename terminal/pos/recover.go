package pos

import (
	"context"
	"fmt"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Startup prepares the POS after a start: it lists in the log the intents
// a previous run left, marks uncertain those still open (the terminal
// stopped between the intent and its outcome, or the completion's group
// commit was lost: the card may or may not have been debited), and rebuilds
// the per-card usage and the last sale from today's journal. Each intent is
// resolved when its card is next presented (HandleCard); so is each load
// intent of a claim before the sale (claim.go). A store that is
// nearly full or full (offline.Store.Capacity) is reported in the log.
func (p *POS) Startup() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ins, err := p.store.Intents()
	if err != nil {
		return fmt.Errorf("pos: startup: %w", err)
	}
	for _, in := range ins {
		p.log.Warn("pos: sale waiting for its card", "intent", in.ID, "card", in.CardNo, "amount", in.Amount,
			"state", in.State.String(), "opened", in.Time)
		if in.State != offline.IntentOpen {
			continue
		}
		if _, err := p.store.MarkUncertain(in.ID, "restart"); err != nil {
			return fmt.Errorf("pos: startup: mark intent %d uncertain: %w", in.ID, err)
		}
	}
	if err := p.rebuildUsage(); err != nil {
		return fmt.Errorf("pos: startup: %w", err)
	}
	// The load intents of claims before the sale, as the kiosk's: open
	// ones uncertain, credited ones confirmed (each request within the
	// claim timeout; an unreachable ledger is tried again later).
	if err := p.engine.Startup(context.Background()); err != nil {
		return fmt.Errorf("pos: startup: %w", err)
	}
	if cs, ok := p.store.(interface {
		Capacity() (offline.Capacity, error)
	}); ok {
		if c, err := cs.Capacity(); err == nil && c.Level != offline.LevelOK {
			p.log.Warn("pos: "+c.Level.String(), "unacked", c.Unacked, "max_unacked", c.MaxUnacked)
		}
	}
	return nil
}

// resolveCard settles, before anything else, the open and uncertain
// intents this terminal holds for the card in the field (DESIGN.md 3.1
// step 7), oldest first. It returns the card's sales found completed,
// by this tap or by an earlier one that ended before showing them, that
// no tap has shown as paid yet (p.unclaimed); ok is false when the card
// failed or left during recovery (tap again), and err reports a store
// failure. After a recovery info.Balance is the card's balance now.
//
// An intent recovery cannot settle from this card (the card was used
// elsewhere since, its log names another terminal, or the intent lacks the
// recovery fields) stays uncertain for the ledger to settle and is not
// tried again by this POS: it must not block the card.
func (p *POS) resolveCard(ctx context.Context, card reader.Card, info *cardread.Info) (done []offline.Intent, ok bool, err error) {
	ins, err := p.store.Intents()
	if err != nil {
		return nil, false, fmt.Errorf("pos: intents: %w", err)
	}
	// The card's balance after a recovery: a settled one (done or void)
	// read it in its INITIALIZE, so no further command is sent before
	// the tap can show a sale found completed; an unsettled one needs GET
	// BALANCE.
	touched, balKnown := false, false
	var bal uint32
	for _, in := range ins {
		if in.CardNo != info.CardNo || p.handOff[in.ID] {
			continue
		}
		pend, perr := PendingOf(in)
		if perr != nil {
			p.log.Error("pos: intent cannot be recovered from the card: settle it by hand", "intent", in.ID, "card", in.CardNo, "err", perr)
			p.handOff[in.ID] = true
			if in.State == offline.IntentOpen {
				if _, err := p.store.MarkUncertain(in.ID, "not-recoverable"); err != nil {
					return done, false, fmt.Errorf("pos: mark intent %d uncertain: %w", in.ID, err)
				}
			}
			continue
		}
		touched = true
		out := epurse.Recover(ctx, card, pend)
		p.log.Info("pos: recovered intent", "intent", in.ID, "card", in.CardNo, "outcome", out.Kind.String(), "err", out.Err)
		if out.Kind == epurse.Uncertain && !epurse.Transient(out.Err) {
			p.log.Error("pos: card cannot settle the intent: left uncertain for the ledger", "intent", in.ID, "card", in.CardNo, "err", out.Err)
			p.handOff[in.ID] = true
		}
		if _, err := p.settle(in, out, false); err != nil {
			return done, false, err
		}
		switch {
		case out.Kind == epurse.Done:
			bal, balKnown = out.BalanceAfter, true
		case out.Kind == epurse.Void && out.LogRecord == (epurse.Record{}):
			bal, balKnown = out.Pending.BalanceBefore, true
		default:
			// Settled from the log (the card was used since) or not at
			// all: the balance now is the card's, not ours.
			balKnown = false
		}
		settled := out.Kind == epurse.Done || out.Kind == epurse.DoneByLog
		switch {
		case settled && p.shown[in.ID]:
			// Shown paid and booked when it was debited; only its
			// completion was missing.
			delete(p.shown, in.ID)
		case settled:
			// Kept until a tap shows it: the completion is journaled now,
			// the intent gone, and this tap may still end early.
			p.unclaimed[in.CardNo] = append(p.unclaimed[in.CardNo], in)
			d := policy.Decision{Allow: true, Amount: in.Amount, Meal: p.mealAt(in.Time)}
			p.usage[in.CardNo] = p.usage[in.CardNo].Add(d, in.Time, p.loc)
		case out.Kind == epurse.Uncertain && epurse.Transient(out.Err):
			return nil, false, nil
		}
	}
	if touched && !balKnown {
		b, err := epurse.GetBalance(ctx, card)
		if err != nil {
			return nil, false, nil
		}
		bal = b
	}
	if touched {
		info.Balance = int64(bal)
	}
	return p.claimable(info.CardNo), true, nil
}

// unclaimedTTL bounds how long a sale found completed by recovery waits
// for its customer's retry: past the retry window only a metered
// session's torn final debit still matches it, by intent.
const unclaimedTTL = 24 * time.Hour

// claimable returns the card's unclaimed sales, dropping those older than
// unclaimedTTL.
func (p *POS) claimable(cardNo string) []offline.Intent {
	now := p.now()
	var keep []offline.Intent
	for _, in := range p.unclaimed[cardNo] {
		if age := now.Sub(in.Time); age <= unclaimedTTL && age >= -unclaimedTTL {
			keep = append(keep, in)
		}
	}
	if len(keep) == 0 {
		delete(p.unclaimed, cardNo)
		return nil
	}
	p.unclaimed[cardNo] = keep
	return keep
}

// claim removes intent id from the card's unclaimed sales: a tap showed
// it as paid.
func (p *POS) claim(cardNo string, id uint64) {
	var keep []offline.Intent
	for _, in := range p.unclaimed[cardNo] {
		if in.ID != id {
			keep = append(keep, in)
		}
	}
	if len(keep) == 0 {
		delete(p.unclaimed, cardNo)
		return
	}
	p.unclaimed[cardNo] = keep
}

// recoveredSale reports whether a sale just found completed by recovery is
// the sale now asked for: the same amount (priced for the card's class), opened within the retry
// window. The customer who taps again after a torn sale has paid already
// and is not charged twice; a voided sale is not in done and is paid anew.
func (p *POS) recoveredSale(info cardread.Info, done []offline.Intent, priced int64) (Result, bool) {
	now := p.now()
	for i := len(done) - 1; i >= 0; i-- {
		in := done[i]
		age := now.Sub(in.Time)
		if in.Amount != priced || age < -p.cfg.RetryWindow.D() || age > p.cfg.RetryWindow.D() {
			continue
		}
		return p.recovered(info, in), true
	}
	return Result{}, false
}

// recovered is the result of a sale found completed by recovery; it is
// claimed and becomes the last sale (the cashier may cancel it).
func (p *POS) recovered(info cardread.Info, in offline.Intent) Result {
	p.claim(in.CardNo, in.ID)
	p.last = &lastSale{IntentID: in.ID, CardNo: in.CardNo, Amount: in.Amount, At: in.Time}
	r := Result{Outcome: Paid, Code: policy.CodeOK, CardNo: info.CardNo, Amount: in.Amount,
		Balance: info.Balance, IntentID: in.ID, Recovered: true}
	r.Message = ui.EarlierSale(r.Amount, r.Balance)
	return r
}
