package pos

import (
	"errors"
	"fmt"
	"math"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader/epurse"
)

// ErrNotRecoverable is returned by PendingOf for an intent that lacks what
// recovery from the card needs or holds values out of the card's range
// (written by an older build, or damaged): it must be resolved by hand.
var ErrNotRecoverable = errors.New("pos: intent not recoverable from the card")

// IntentOf is what the journal keeps of a purchase before DEBIT FOR
// PURCHASE: enough to resolve it from the card after a restart (PendingOf
// gives it back) and for the ledger to check the TAC.
func IntentOf(cardNo string, p epurse.Pending) offline.PurchaseIntent {
	return offline.PurchaseIntent{
		CardNo:        cardNo,
		Amount:        int64(p.Amount),
		BalanceBefore: int64(p.BalanceBefore),
		CardCounter:   uint32(p.OfflineCounter),
		TerminalID:    p.TermID[:],
		TerminalSeq:   p.TermSeq,
		TxTime:        p.Time[:],
		CardSerial:    p.CardSerial[:],
		KeyIndex:      p.KeyIndex,
		KeyVersion:    p.KeyVersion,
		Algorithm:     uint8(p.Algorithm),
		MAC1:          p.MAC1[:],
	}
}

// PendingOf rebuilds the e-purse's view of an intent read back from the
// store, for epurse.Recover. It fails with ErrNotRecoverable when a field
// is missing or does not fit the card's ranges.
func PendingOf(in offline.Intent) (epurse.Pending, error) {
	var p epurse.Pending
	if !in.Recoverable() || len(in.TerminalID) != len(p.TermID) || len(in.TxTime) != len(p.Time) ||
		len(in.CardSerial) != len(p.CardSerial) || len(in.MAC1) != len(p.MAC1) ||
		in.CardCounter > math.MaxUint16 || in.Amount <= 0 || in.Amount > math.MaxUint32 ||
		in.BalanceBefore < 0 || in.BalanceBefore > math.MaxUint32 {
		return p, fmt.Errorf("pos: intent %d: %w", in.ID, ErrNotRecoverable)
	}
	copy(p.TermID[:], in.TerminalID)
	copy(p.Time[:], in.TxTime)
	copy(p.CardSerial[:], in.CardSerial)
	copy(p.MAC1[:], in.MAC1)
	p.TermSeq = in.TerminalSeq
	p.Amount = uint32(in.Amount)
	p.BalanceBefore = uint32(in.BalanceBefore)
	p.OfflineCounter = uint16(in.CardCounter)
	p.KeyIndex = in.KeyIndex
	p.KeyVersion = in.KeyVersion
	p.Algorithm = epurse.Algorithm(in.Algorithm)
	return p, nil
}
