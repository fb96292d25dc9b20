package epurse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/reader"
)

// OutcomeKind says what became of a purchase or load.
type OutcomeKind int

// Outcome kinds.
const (
	// Done: the card was debited (or credited); TAC and MAC2 are known.
	Done OutcomeKind = iota + 1
	// Refused: the card answered that it did not take the transaction
	// (insufficient balance, locked, MAC wrong ...). Nothing moved.
	Refused
	// Uncertain: the command that moves money was sent and its result is
	// unknown (card removed, timeout, transport fault, garbled answer).
	// Resolve it with Recover (RecoverLoad) when the card is seen again.
	Uncertain
	// Void: recovery found that the transaction did not happen on the card.
	Void
	// DoneByLog: recovery found that the transaction did happen, proven by
	// the card's own transaction log (file 0x18: the record of the debit or
	// credit that moved the card's counter from the intent's value, with
	// this terminal's id, amount and date-time), but the card no longer
	// holds its proof: GET TRANSACTION PROVE answers for the card's last
	// transaction only, and the card was used since. There is no TAC and no
	// MAC2; LogRecord is the evidence. Book it as done without a TAC.
	DoneByLog
)

// String names the outcome kind.
func (k OutcomeKind) String() string {
	switch k {
	case Done:
		return "done"
	case Refused:
		return "refused"
	case Uncertain:
		return "uncertain"
	case Void:
		return "void"
	case DoneByLog:
		return "done-by-log"
	default:
		return fmt.Sprintf("outcome(%d)", int(k))
	}
}

// PurchaseRequest is what the terminal asks of a purchase.
type PurchaseRequest struct {
	Amount     uint32   // fen, > 0
	Time       DateTime // transaction time (from the terminal's clock)
	KeyIndex   byte     // DPK index; 0 means DefaultKeyIndex
	CardSerial [8]byte  // diversification factor: PublicData.Factor()
}

// Pending is everything a terminal writes in its durable intent before
// DEBIT FOR PURCHASE, and everything Recover needs to resolve it later.
type Pending struct {
	CardSerial     [8]byte // diversification factor of the card
	TermID         [6]byte
	TermSeq        uint32 // terminal transaction sequence from the SAM
	Amount         uint32
	Time           DateTime
	KeyIndex       byte
	KeyVersion     byte
	Algorithm      Algorithm
	BalanceBefore  uint32
	OfflineCounter uint16 // card offline counter before the debit
	MAC1           [4]byte
}

// PurchaseOutcome is the result of a purchase step or of a recovery.
type PurchaseOutcome struct {
	Kind    OutcomeKind
	Pending Pending
	// TAC and MAC2 are set when Kind is Done.
	TAC, MAC2 [4]byte
	// BalanceAfter is the balance after the debit when Kind is Done.
	BalanceAfter uint32
	// LogRecord is the card's log record that settled a recovery: our
	// debit when Kind is DoneByLog, the other terminal's purchase that took
	// our counter when Kind is Void by the log; zero otherwise.
	LogRecord Record
	// MAC2Verified is true when the SAM verified MAC2 (not done by Recover:
	// the SAM's purchase session is gone; the ledger checks the TAC).
	MAC2Verified bool
	// Err is the reason when Refused (errors.Is ErrInsufficientBalance,
	// ErrLocked, ErrMACInvalid, or a *reader.StatusError), the cause when
	// Uncertain, and, when Done, a failed MAC2 check by the SAM
	// (ErrMACInvalid): the debit happened but the card's MAC2 is suspect.
	Err error
}

// Purchase is a purchase prepared on a card and a SAM and not yet debited.
type Purchase struct {
	Pending Pending
	sam     SAM
}

// PreparePurchase runs the steps before any money moves: SAM terminal id,
// INITIALIZE FOR PURCHASE on the card, INIT SAM FOR PURCHASE for MAC1. An
// error here means nothing was debited; errors.Is finds
// ErrInsufficientBalance, ErrLocked, ErrUnsupportedAlgorithm, or a
// *reader.StatusError / reader sentinel. The terminal then makes
// p.Pending durable and calls p.Debit.
func PreparePurchase(ctx context.Context, card reader.Card, sam SAM, req PurchaseRequest) (*Purchase, error) {
	if req.Amount == 0 {
		return nil, fmt.Errorf("epurse: purchase: %w: zero amount", ErrBadRequest)
	}
	if _, err := req.Time.In(time.UTC); err != nil {
		return nil, fmt.Errorf("epurse: purchase: %w: %w", ErrBadRequest, err)
	}
	if req.KeyIndex == 0 {
		req.KeyIndex = DefaultKeyIndex
	}
	tid, err := sam.TerminalID(ctx)
	if err != nil {
		return nil, fmt.Errorf("epurse: purchase: terminal id: %w", err)
	}
	in, err := InitializeForPurchase(ctx, card, req.KeyIndex, req.Amount, tid)
	if err != nil {
		return nil, fmt.Errorf("epurse: purchase: %w", err)
	}
	if in.Algorithm != AlgDES && in.Algorithm != AlgSM4 {
		return nil, fmt.Errorf("epurse: purchase: %w: %s", ErrUnsupportedAlgorithm, in.Algorithm)
	}
	if uint64(req.Amount) > uint64(in.Balance)+uint64(in.OverdraftLimit) {
		return nil, fmt.Errorf("epurse: purchase: %w: balance %d, amount %d", ErrInsufficientBalance, in.Balance, req.Amount)
	}
	seq, mac1, err := sam.InitPurchase(ctx, SAMPurchaseRequest{
		Random: in.Random, OfflineCounter: in.OfflineCounter, Amount: req.Amount, Type: TxPurchase,
		Time: req.Time, KeyVersion: in.KeyVersion, Algorithm: in.Algorithm, CardSerial: req.CardSerial,
	})
	if err != nil {
		return nil, fmt.Errorf("epurse: purchase: sam: %w", err)
	}
	return &Purchase{sam: sam, Pending: Pending{
		CardSerial: req.CardSerial, TermID: tid, TermSeq: seq, Amount: req.Amount, Time: req.Time,
		KeyIndex: req.KeyIndex, KeyVersion: in.KeyVersion, Algorithm: in.Algorithm,
		BalanceBefore: in.Balance, OfflineCounter: in.OfflineCounter, MAC1: mac1,
	}}, nil
}

// refusingSW are the status words with which a card refuses DEBIT FOR
// PURCHASE before changing anything (JR/T 0025 part 2, responses of DEBIT):
// any other answer, and every transport error, leaves the debit uncertain.
var refusingSW = map[reader.SW]bool{
	reader.SWBalanceInsufficient:  true,
	reader.SWMAC1Wrong:            true,
	reader.SWApplicationLocked:    true,
	reader.SWAuthBlocked:          true,
	reader.SWConditionsNotMet:     true,
	reader.SWSecurityNotSatisfied: true,
	reader.SWKeyIndexUnsupported:  true,
}

// Debit sends DEBIT FOR PURCHASE and, when the card answers, has the SAM
// verify MAC2. It never returns "failed" for an unknown result: anything
// but a clear refusal by the card after DEBIT was sent is Uncertain.
func (p *Purchase) Debit(ctx context.Context, card reader.Card) PurchaseOutcome {
	pd := p.Pending
	out := PurchaseOutcome{Pending: pd}
	tac, mac2, err := DebitForPurchase(ctx, card, pd.TermSeq, pd.Time, pd.MAC1)
	if err != nil {
		var se *reader.StatusError
		if errors.As(err, &se) && refusingSW[se.SW] {
			out.Kind, out.Err = Refused, err
		} else {
			out.Kind, out.Err = Uncertain, err
		}
		return out
	}
	out.Kind, out.TAC, out.MAC2 = Done, tac, mac2
	out.BalanceAfter = pd.BalanceBefore - min(pd.BalanceBefore, pd.Amount)
	if err := p.sam.VerifyMAC2(ctx, mac2); err != nil {
		out.Err = fmt.Errorf("epurse: debit: sam MAC2 check: %w", err)
	} else {
		out.MAC2Verified = true
	}
	return out
}

// Pay runs a whole purchase: PreparePurchase, then intent (the terminal's
// durable journal write; nil skips it), then Debit. An error from the
// preparation or from intent returns a Refused outcome with that error:
// nothing was sent that could move money.
func Pay(ctx context.Context, card reader.Card, sam SAM, req PurchaseRequest, intent func(Pending) error) PurchaseOutcome {
	p, err := PreparePurchase(ctx, card, sam, req)
	if err != nil {
		return PurchaseOutcome{Kind: Refused, Err: err}
	}
	if intent != nil {
		if err := intent(p.Pending); err != nil {
			return PurchaseOutcome{Kind: Refused, Pending: p.Pending, Err: fmt.Errorf("epurse: purchase: intent: %w", err)}
		}
	}
	return p.Debit(ctx, card)
}
