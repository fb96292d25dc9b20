package ledger

import (
	"fmt"
	"math"

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

type tacCacheKey struct {
	version byte
	alg     epurse.Algorithm
	serial  [8]byte
}

const tacCacheMax = 1 << 16

// cardKeys diversifies the issuer keys of a key version for one card,
// caching the result (a busy canteen sees the same cards all day).
func (l *Ledger) cardKeys(version byte, alg epurse.Algorithm, serial [8]byte) (epurse.CardKeys, error) {
	k := tacCacheKey{version, alg, serial}
	l.tacMu.Lock()
	ck, ok := l.tacCache[k]
	l.tacMu.Unlock()
	if ok {
		return ck, nil
	}
	mk, ok := l.opts.IssuerKeys[version]
	if !ok {
		return epurse.CardKeys{}, fmt.Errorf("ledger: no issuer keys of key version %d", version)
	}
	ck, err := mk.ForCard(alg, serial)
	if err != nil {
		return epurse.CardKeys{}, err
	}
	l.tacMu.Lock()
	if len(l.tacCache) >= tacCacheMax {
		clear(l.tacCache)
	}
	l.tacCache[k] = ck
	l.tacMu.Unlock()
	return ck, nil
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
	alg := epurse.Algorithm(r.Algorithm)
	ck, err := l.cardKeys(r.KeyVersion, alg, [8]byte(r.CardSerial))
	if err != nil {
		return TACUnverifiable, err.Error()
	}
	want, err := epurse.PurchaseTAC(alg, ck.DTK, uint32(r.Amount), [6]byte(r.TerminalID), r.TerminalSeq, epurse.DateTime(r.TxTime))
	if err != nil {
		return TACUnverifiable, err.Error()
	}
	if !epurse.VerifyMAC([4]byte(r.TAC), want) {
		return TACBad, "TAC does not match"
	}
	return TACVerified, ""
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
	alg := epurse.Algorithm(r.Algorithm)
	ck, err := l.cardKeys(r.KeyVersion, alg, [8]byte(r.CardSerial))
	if err != nil {
		return TACUnverifiable, err.Error()
	}
	want, err := epurse.LoadTAC(alg, ck.DTK, uint32(r.BalanceAfter), uint16(r.CardCounter), uint32(r.Amount), [6]byte(r.TerminalID), epurse.DateTime(r.TxTime))
	if err != nil {
		return TACUnverifiable, err.Error()
	}
	if !epurse.VerifyMAC([4]byte(r.TAC), want) {
		return TACBad, "load TAC does not match"
	}
	return TACVerified, ""
}
