package pos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// pay runs the money-moving part of a sale of amount fen (DESIGN.md 3.1
// steps 3 to 6): INITIALIZE FOR PURCHASE and MAC1, the durable intent, DEBIT
// FOR PURCHASE, the SAM's MAC2 check and the completion. The intent is
// committed (fsync'd) before DEBIT is sent; after DEBIT anything but a clear
// refusal by the card marks it uncertain. A paid sale's completion is left
// in p.unbooked for HandleCard to commit once the result is shown: the
// critical path holds one commit, the intent's.
func (p *POS) pay(ctx context.Context, card reader.Card, info cardread.Info, amount int64) (Result, error) {
	cardNo := info.CardNo
	if amount <= 0 || amount > math.MaxUint32 {
		return refused(cardNo, policy.CodeInvalidAmount), nil
	}
	t := time.Now()
	prep, err := epurse.PreparePurchase(ctx, card, p.sam, epurse.PurchaseRequest{
		Amount: uint32(amount), Time: epurse.NewDateTime(p.now().In(p.loc)),
		KeyIndex: byte(p.cfg.KeyIndex), CardSerial: info.Public.Factor(),
	})
	p.tm.Card += time.Since(t)
	if err != nil {
		r, ferr := p.prepareFailed(cardNo, err)
		if r.Outcome == Refused && journaledRefusal(r.Code) {
			r.evidence = refusalRecord(info, r.Code, amount) // the card itself refused: insufficient, locked
		}
		return r, ferr
	}
	t = time.Now()
	in, err := p.store.OpenIntent(IntentOf(cardNo, prep.Pending))
	p.tm.Commit += time.Since(t)
	if err != nil {
		if errors.Is(err, offline.ErrStorageFull) {
			return refused(cardNo, CodeStorageFull), err
		}
		return refused(cardNo, CodeStoreFault), err
	}
	t = time.Now()
	out := prep.Debit(ctx, card)
	p.tm.Card += time.Since(t)
	return p.settle(in, out, true)
}

// book commits the completion of the sale this tap paid (p.unbooked), if
// any. When it fails the intent stays open, and the card's next tap (or the
// next start) completes it from the card: p.shown keeps that sale from
// being taken for the customer's retry then.
func (p *POS) book() error {
	u := p.unbooked
	if u == nil {
		return nil
	}
	p.unbooked = nil
	if _, err := p.store.CompleteIntent(u.id, u.c); err != nil {
		p.shown[u.id] = true
		return fmt.Errorf("pos: complete intent %d: %w", u.id, err)
	}
	return nil
}

// prepareFailed maps an error before any intent: nothing was debited.
func (p *POS) prepareFailed(cardNo string, err error) (Result, error) {
	var se *reader.StatusError
	switch {
	case errors.Is(err, epurse.ErrInsufficientBalance):
		return refused(cardNo, policy.CodeInsufficient), nil
	case errors.Is(err, epurse.ErrLocked):
		return refused(cardNo, policy.CodeLocked), nil
	case errors.Is(err, reader.ErrCardRemoved), errors.Is(err, reader.ErrTimeout),
		errors.Is(err, reader.ErrTransport), errors.Is(err, reader.ErrMalformed):
		p.log.Warn("pos: card lost before the debit", "card", cardNo, "err", err)
		return tapAgain(cardNo, CodeCardUnreadable), nil
	case errors.As(err, &se):
		p.log.Warn("pos: card refused the purchase", "card", cardNo, "err", err)
		return refused(cardNo, CodeCardRefused), nil
	}
	// The SAM failed (or the card answered something this terminal cannot
	// use): a terminal fault; a PSAM missing from its slot says so.
	if errors.Is(err, sam.ErrNoSAM) {
		return refused(cardNo, CodeNoSAM), fmt.Errorf("pos: prepare purchase: %w", err)
	}
	return refused(cardNo, CodeSAMFault), fmt.Errorf("pos: prepare purchase: %w", err)
}

// settle journals the outcome of a DEBIT (or of a recovery) for intent in
// and returns the result to show. A completion is committed now, or left in
// p.unbooked when later is set (a new sale: HandleCard books it after the
// display). A recovery that still cannot tell leaves an uncertain intent as
// it is.
func (p *POS) settle(in offline.Intent, out epurse.PurchaseOutcome, later bool) (Result, error) {
	cardNo := in.CardNo
	switch out.Kind {
	case epurse.Done:
		switch {
		case out.Err != nil && (errors.Is(out.Err, sam.ErrNoSAM) || errors.Is(out.Err, sam.ErrSessionLost)):
			// The PSAM left between the card's debit and the MAC2 check:
			// the debit happened; the TAC proves it to the ledger.
			p.log.Warn("pos: MAC2 not checked: the PSAM left after the card's debit", "card", cardNo, "intent", in.ID, "err", out.Err)
		case out.Err != nil:
			// The card debited; its MAC2 did not verify at the SAM. The TAC
			// still proves the debit to the ledger: complete, and report.
			p.log.Error("pos: MAC2 check failed after a debit", "card", cardNo, "intent", in.ID, "err", out.Err)
		}
		r := Result{Outcome: Paid, Code: policy.CodeOK, CardNo: cardNo, Amount: in.Amount,
			Balance: int64(out.BalanceAfter), IntentID: in.ID}
		r.Message = ui.Approved(r.Amount, r.Balance)
		return r, p.complete(in.ID, offline.Completion{
			BalanceAfter: int64(out.BalanceAfter), TAC: out.TAC[:], MAC2: out.MAC2[:],
		}, later)
	case epurse.DoneByLog:
		// The card debited, and its log says so; its proof is gone (the
		// card was used since). The ledger sees a completion without TAC.
		p.log.Warn("pos: torn sale settled from the card's log: no TAC", "card", cardNo, "intent", in.ID,
			"log_terminal", fmt.Sprintf("%X", out.LogRecord.TermID[:]), "log_counter", out.LogRecord.Counter)
		r := Result{Outcome: Paid, Code: policy.CodeOK, CardNo: cardNo, Amount: in.Amount,
			Balance: int64(out.BalanceAfter), IntentID: in.ID}
		r.Message = ui.Approved(r.Amount, r.Balance)
		return r, p.complete(in.ID, offline.Completion{BalanceAfter: int64(out.BalanceAfter), ByLog: true}, later)
	case epurse.Refused:
		if _, err := p.store.VoidIntent(in.ID, epurse.ReasonCode(out.Err)); err != nil {
			return refused(cardNo, CodeStoreFault), fmt.Errorf("pos: void intent %d: %w", in.ID, err)
		}
		r := refused(cardNo, CodeCardRefused)
		if errors.Is(out.Err, epurse.ErrInsufficientBalance) {
			r = refused(cardNo, policy.CodeInsufficient)
		}
		p.log.Warn("pos: card refused the debit", "card", cardNo, "intent", in.ID, "err", out.Err)
		return r, nil
	case epurse.Void:
		reason := "counter-unchanged"
		if out.LogRecord != (epurse.Record{}) {
			reason = "card-log-other-terminal" // the card's log: another terminal's purchase took the counter
		}
		if _, err := p.store.VoidIntent(in.ID, reason); err != nil {
			return refused(cardNo, CodeStoreFault), fmt.Errorf("pos: void intent %d: %w", in.ID, err)
		}
		return Result{Outcome: Refused, Code: CodeVoided, CardNo: cardNo, IntentID: in.ID}, nil
	default: // Uncertain
		p.log.Warn("pos: debit uncertain", "card", cardNo, "intent", in.ID, "err", out.Err)
		r := tapAgain(cardNo, CodeUncertain)
		r.IntentID = in.ID
		if in.State != offline.IntentUncertain {
			if _, err := p.store.MarkUncertain(in.ID, epurse.ReasonCode(out.Err)); err != nil {
				return r, fmt.Errorf("pos: mark intent %d uncertain: %w", in.ID, err)
			}
		}
		return r, nil
	}
}

// complete commits intent id's completion c now, or leaves it for book
// when later is set. The card was debited and the intent is durable: if the
// commit fails, the next tap of this card (or the next start) resolves it
// from the card.
func (p *POS) complete(id uint64, c offline.Completion, later bool) error {
	if later {
		p.unbooked = &unbooked{id: id, c: c}
		return nil
	}
	if _, err := p.store.CompleteIntent(id, c); err != nil {
		return fmt.Errorf("pos: complete intent %d: %w", id, err)
	}
	return nil
}
