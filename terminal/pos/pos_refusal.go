package pos

import (
	"errors"
	"fmt"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/policy"
)

// journaledRefusal reports whether a refusal of code is evidence the
// journal keeps (a purchase-refused record the ledger reports): what the
// card or its account is (status list, the card's own status, validity),
// the limits and the balance it hit, and the holds under which the
// terminal took no money. A refusal that says nothing of the card (a
// repeat tap, outside meal times, a keyed amount out of range, a missing
// price) and a card that could not be read are not.
func journaledRefusal(c policy.Code) bool {
	switch c {
	case policy.CodeLost, policy.CodeFrozen, policy.CodeDormant, policy.CodeCancelled, policy.CodeLocked,
		policy.CodeCardStatus, policy.CodeExpired, policy.CodeNotYetValid,
		policy.CodeMealLimit, policy.CodeDailyLimit, policy.CodeMinBalance, policy.CodeInsufficient,
		policy.CodeNoStatusList, policy.CodeOfflineTooLong, policy.CodeDeviceRevoked, policy.CodeChainBroken:
		return true
	}
	return false
}

// refusalRecord is the purchase-refused record of a refusal with code of
// a sale of amount (fen, as asked) to the card read.
func refusalRecord(info cardread.Info, c policy.Code, amount int64) *protocol.Record {
	return &protocol.Record{Kind: protocol.KindPurchaseRefused, CardNo: info.CardNo, Amount: max(amount, 0),
		Reason: string(c), BalanceBefore: max(info.Balance, 0)}
}

// journalRefusal appends the evidence of a refusal (nil: none). A store
// too full for it is logged, not a fault: the refusal was shown, and the
// room left is for the outcomes of sales.
func (p *POS) journalRefusal(r *protocol.Record) error {
	if r == nil {
		return nil
	}
	if cs, ok := p.store.(interface {
		Capacity() (offline.Capacity, error)
	}); ok {
		if c, err := cs.Capacity(); err == nil && c.Level == offline.LevelFull {
			p.log.Warn("pos: refusal not journaled: the journal is full", "card", r.CardNo, "reason", r.Reason)
			return nil
		}
	}
	if _, err := p.store.Append(*r); err != nil {
		if errors.Is(err, offline.ErrStorageFull) {
			p.log.Warn("pos: refusal not journaled: the journal is full", "card", r.CardNo, "reason", r.Reason)
			return nil
		}
		return fmt.Errorf("pos: journal refusal: %w", err)
	}
	return nil
}
