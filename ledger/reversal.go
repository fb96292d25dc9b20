package ledger

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// AlertReversal: a purchase-reversed record that owes nothing: the record
// is kept in the journal, no load is made (Seq, CardNo, Amount, IntentID,
// Reason say which and why).
const AlertReversal = "reversal-refused"

// sale is a completed sale as the ledger remembers it per device (bucket
// sales, by intent id), for the reversals that name it.
type sale struct {
	Card    string `json:"card"`
	Amount  int64  `json:"amount"` // fen
	Seq     uint64 `json:"seq"`    // the purchase-completed record
	Verdict string `json:"tac"`    // its TAC verdict (TACVerified, TACBad, TACUnverifiable)
	// Reversed is the purchase-reversed record that reversed it (0: not).
	Reversed uint64 `json:"reversed,omitempty"`
}

// noteSale remembers a purchase-completed record under its intent id; the
// first completion of an intent is the sale (an honest journal has one).
func noteSale(sb *bolt.Bucket, r *protocol.Record, verdict string) error {
	if r.IntentID == 0 || sb.Get(be64(r.IntentID)) != nil {
		return nil
	}
	return putJSON(sb, be64(r.IntentID), sale{Card: r.CardNo, Amount: r.Amount, Seq: r.Seq, Verdict: verdict})
}

// reversal accounts a purchase-reversed record. A reversal creates money
// (a pending load for the card), so the ledger trusts it only as far as it
// can check it: it must come from a POS that is not revoked and name, by
// intent id, a completed, TAC-verified sale of the same device (and
// journal epoch) for the same card and exactly the same amount, not
// reversed before. Then the sale is marked reversed and the card is owed
// the amount: credited to its account (marked for loading) when the card
// has one, else as a pending load of the card. Anything else is an AlertReversal, owes
// nothing, and the record stays in the journal like every other.
func (l *Ledger) reversal(tx *bolt.Tx, sb *bolt.Bucket, d *Device, epoch uint64, r *protocol.Record, batchNo uint64, now time.Time) error {
	st := &d.Stats
	var s sale
	why := ""
	switch {
	case !d.Revoked.IsZero():
		why = "device revoked: its records are collected, never trusted with money"
	case d.Kind != "pos":
		why = fmt.Sprintf("device is a %s, not a POS: only a POS reverses its sales", d.Kind)
	case r.IntentID == 0 || getJSON(sb, be64(r.IntentID), &s) != nil:
		why = fmt.Sprintf("no completed sale with intent %d on this device", r.IntentID)
	case r.CardNo != s.Card:
		why = fmt.Sprintf("sale %d was of card %s, not this card", r.IntentID, s.Card)
	case r.Amount != s.Amount:
		why = fmt.Sprintf("sale %d was for %s, not this amount", r.IntentID, Yuan(s.Amount))
	case s.Verdict != TACVerified:
		why = fmt.Sprintf("sale %d has no verified TAC (%s)", r.IntentID, s.Verdict)
	case s.Reversed != 0:
		why = fmt.Sprintf("sale %d already reversed by record %d", r.IntentID, s.Reversed)
	}
	if why != "" {
		st.ReversalsRefused++
		st.ReversalsRefusedAmount += r.Amount
		n, err := putAlert(tx, Alert{Kind: AlertReversal, Device: d.ID, Epoch: epoch, Seq: r.Seq, BatchNo: batchNo, Reason: why,
			CardNo: r.CardNo, Amount: r.Amount, IntentID: r.IntentID, Time: now})
		if err != nil {
			return err
		}
		l.log.Warn("reversal refused: no load", "device", d.ID, "seq", r.Seq, "intent", r.IntentID, "card", r.CardNo, "amount", r.Amount, "why", why, "alert", n)
		return nil
	}
	s.Reversed = r.Seq
	if err := putJSON(sb, be64(r.IntentID), s); err != nil {
		return err
	}
	st.Reversals += r.Amount
	st.ReversalCount++
	src := fmt.Sprintf("reversal %s/%d", d.ID, r.Seq)
	if epoch > 0 {
		src = fmt.Sprintf("reversal %s/%d/%d", d.ID, epoch, r.Seq)
	}
	a, ok, err := accountOfCard(tx, r.CardNo)
	if err != nil {
		return err
	}
	if ok {
		// The card's account takes the money, marked for loading (the
		// card, replaced since or not, claims it at a kiosk or POS).
		return creditTx(tx, &a, accounts.EntryReversal, r.Amount, src, now)
	}
	_, err = addLoadTx(tx, r.CardNo, r.Amount, src, now)
	return err
}
