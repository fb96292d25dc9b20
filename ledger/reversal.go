package ledger

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// AlertReversal: a purchase-reversed record that owes nothing: the record
// is kept in the journal, no load is made (Seq, CardNo, Amount, IntentID,
// Reason say which and why).
const AlertReversal = "reversal-refused"

// reversal accounts a purchase-reversed record. A reversal creates money
// (a pending load for the card), so the ledger trusts it only as far as it
// can check it; one it cannot trust is an AlertReversal and owes nothing.
func (l *Ledger) reversal(tx *bolt.Tx, d *Device, r *protocol.Record, batchNo uint64, now time.Time) error {
	st := &d.Stats
	why := ""
	if !d.Revoked.IsZero() {
		why = "device revoked: its records are collected, never trusted with money"
	}
	if why != "" {
		st.ReversalsRefused++
		st.ReversalsRefusedAmount += r.Amount
		n, err := putAlert(tx, Alert{Kind: AlertReversal, Device: d.ID, Seq: r.Seq, BatchNo: batchNo, Reason: why,
			CardNo: r.CardNo, Amount: r.Amount, IntentID: r.IntentID, Time: now})
		if err != nil {
			return err
		}
		l.log.Warn("reversal refused: no load", "device", d.ID, "seq", r.Seq, "intent", r.IntentID, "card", r.CardNo, "amount", r.Amount, "why", why, "alert", n)
		return nil
	}
	st.Reversals += r.Amount
	st.ReversalCount++
	if r.CardNo != "" && r.Amount > 0 {
		if _, err := addLoadTx(tx, r.CardNo, r.Amount, fmt.Sprintf("reversal %s/%d", d.ID, r.Seq), now); err != nil {
			return err
		}
	}
	return nil
}
