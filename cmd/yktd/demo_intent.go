package main

import (
	"fmt"
	"math"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader/epurse"
)

// intentOf is what the journal keeps of a purchase before DEBIT: enough to
// resolve it from the card after a restart and for the ledger to check the
// TAC.
func intentOf(cardNo string, p epurse.Pending) offline.PurchaseIntent {
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

// pendingOf rebuilds the e-purse's view of an intent read back from the store.
func pendingOf(in offline.Intent) (epurse.Pending, error) {
	var p epurse.Pending
	if len(in.TerminalID) != len(p.TermID) || len(in.TxTime) != len(p.Time) ||
		len(in.CardSerial) != len(p.CardSerial) || len(in.MAC1) != len(p.MAC1) ||
		in.CardCounter > math.MaxUint16 || in.Amount <= 0 || in.Amount > math.MaxUint32 ||
		in.BalanceBefore < 0 || in.BalanceBefore > math.MaxUint32 {
		return p, fmt.Errorf("intent %d: incomplete or out of range for recovery", in.ID)
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
