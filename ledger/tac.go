package ledger

import (
	"context"
	"errors"
	"math"

	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
)

// TAC check outcomes of a purchase-completed record.
const (
	TACVerified     = "verified"
	TACBad          = "bad"          // the TAC does not match: forged or corrupted evidence
	TACUnverifiable = "unverifiable" // fields missing, unknown key version or algorithm
)

// TACResult is the ledger's verdict on one record's TAC. Only flagged ones
// (bad, unverifiable) are kept, by device and sequence.
type TACResult struct {
	Device string `json:"device"`
	Epoch  uint64 `json:"epoch,omitempty"` // the device's journal epoch
	Seq    uint64 `json:"seq"`
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	CardNo string `json:"card_no,omitempty"`
	Amount int64  `json:"amount,omitempty"`
}

// tacVerdict turns a key service's answer into a verdict.
func tacVerdict(err error, bad string) (result, reason string) {
	switch {
	case err == nil:
		return TACVerified, ""
	case errors.Is(err, keys.ErrMismatch):
		return TACBad, bad
	}
	return TACUnverifiable, err.Error()
}

// CheckPurchaseTAC verifies the TAC of a purchase-completed record (DESIGN.md
// 4, protocol.Record): TAC over be32(Amount) ‖ 06 ‖ TerminalID ‖
// be32(TerminalSeq) ‖ TxTime under the card's DTK diversified by
// CardSerial from the issuer keys of KeyVersion, with the algorithm
// Algorithm names. It returns TACVerified, TACBad or TACUnverifiable with
// the reason.
func (l *Ledger) CheckPurchaseTAC(r *protocol.Record) (result, reason string) {
	switch {
	case len(r.TAC) == 0 && r.Reason == "card-log":
		// A torn sale the device settled from the card's transaction log:
		// the card had no proof left (it keeps its last transaction's
		// only). The debit is real; the card's log record, not a TAC,
		// says so: settle it against the card's account statement.
		return TACUnverifiable, "no TAC: settled from the card's log (card-log)"
	case len(r.TAC) != protocol.CryptogramSize:
		return TACUnverifiable, "no TAC"
	case len(r.CardSerial) != protocol.CardSerialSize:
		return TACUnverifiable, "no card serial"
	case len(r.TerminalID) != protocol.TerminalIDSize:
		return TACUnverifiable, "no terminal id"
	case len(r.TxTime) != protocol.TxTimeSize:
		return TACUnverifiable, "no transaction time"
	case r.Amount <= 0 || r.Amount > math.MaxUint32:
		return TACUnverifiable, "amount out of range"
	}
	err := l.keys.VerifyPurchaseTAC(context.Background(), keys.PurchaseTAC{Card: recordCard(r), Amount: uint32(r.Amount),
		TerminalID: [6]byte(r.TerminalID), TerminalSeq: r.TerminalSeq, Time: epurse.DateTime(r.TxTime), TAC: [4]byte(r.TAC)})
	return tacVerdict(err, "TAC does not match")
}

// CheckLoadTAC verifies the TAC of a load record that carries one: TAC over
// be32(BalanceAfter) ‖ be16(CardCounter) ‖ be32(Amount) ‖ 02 ‖ TerminalID ‖
// TxTime (epurse.LoadTAC). A load record without a TAC is not checked ("").
func (l *Ledger) CheckLoadTAC(r *protocol.Record) (result, reason string) {
	if r.TAC == nil {
		return "", ""
	}
	switch {
	case len(r.CardSerial) != protocol.CardSerialSize || len(r.TerminalID) != protocol.TerminalIDSize ||
		len(r.TxTime) != protocol.TxTimeSize:
		return TACUnverifiable, "card serial, terminal id or time missing"
	case r.Amount <= 0 || r.Amount > math.MaxUint32 || r.BalanceAfter > math.MaxUint32 || r.CardCounter > math.MaxUint16:
		return TACUnverifiable, "amount, balance or counter out of range"
	}
	err := l.keys.VerifyLoadTAC(context.Background(), keys.LoadTAC{Card: recordCard(r), BalanceAfter: uint32(r.BalanceAfter),
		OnlineCounter: uint16(r.CardCounter), Amount: uint32(r.Amount), TerminalID: [6]byte(r.TerminalID), Time: epurse.DateTime(r.TxTime), TAC: [4]byte(r.TAC)})
	return tacVerdict(err, "load TAC does not match")
}

// recordCard names the card keys of a record.
func recordCard(r *protocol.Record) keys.Card {
	return keys.Card{KeyVersion: r.KeyVersion, Algorithm: epurse.Algorithm(r.Algorithm), Serial: [8]byte(r.CardSerial)}
}
