package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Intent states kept per device.
const (
	intentOpen      byte = 1
	intentUncertain byte = 2
)

// account updates the device's totals, intents, card knowledge, TAC
// verdicts, sales and reversal loads for one new record of epoch v.
func (l *Ledger) account(tx *bolt.Tx, d *Device, v view, r *protocol.Record, batchNo uint64, now time.Time) (*TACResult, error) {
	st := &d.Stats
	st.Records++
	if !d.Revoked.IsZero() {
		st.CollectedAfterRevoke++
		if r.WallTime().After(d.Revoked) {
			st.MadeAfterRevoke++
		}
	}
	var verdict, reason string
	switch r.Kind {
	case protocol.KindPurchaseIntent:
		ib, err := sub(tx, bucketIntents, v.space, true)
		if err != nil {
			return nil, err
		}
		st.OpenIntents++
		if err := ib.Put(be64(r.Seq), []byte{intentOpen}); err != nil {
			return nil, err
		}
	case protocol.KindPurchaseCompleted, protocol.KindPurchaseVoided:
		if err := resolveIntent(tx, d, v.space, r.IntentID, 0); err != nil {
			return nil, err
		}
		if r.Kind == protocol.KindPurchaseVoided {
			break
		}
		st.Debits += r.Amount
		st.DebitCount++
		verdict, reason = l.CheckPurchaseTAC(r)
		if verdict == TACVerified {
			if err := noteCardPurchase(tx, r); err != nil {
				return nil, err
			}
		}
		sb, err := sub(tx, bucketSales, v.space, true)
		if err != nil {
			return nil, err
		}
		if err := noteSale(sb, r, verdict); err != nil {
			return nil, err
		}
	case protocol.KindPurchaseUncertain:
		if err := resolveIntent(tx, d, v.space, r.IntentID, intentUncertain); err != nil {
			return nil, err
		}
	case protocol.KindLoad:
		st.Loads += r.Amount
		st.LoadCount++
		verdict, reason = l.CheckLoadTAC(r)
	case protocol.KindPurchaseReversed:
		sb, err := sub(tx, bucketSales, v.space, true)
		if err != nil {
			return nil, err
		}
		if err := l.reversal(tx, sb, d, v.epoch, r, batchNo, now); err != nil {
			return nil, err
		}
	default:
		if err := noteEvent(tx, d, v.epoch, r, now); err != nil {
			return nil, err
		}
	}
	if err := noteCardSeen(tx, d.ID, r, verdict == TACVerified); err != nil {
		return nil, err
	}
	switch verdict {
	case "":
		return nil, nil
	case TACVerified:
		st.TACVerified++
		return nil, nil
	case TACBad:
		st.TACBad++
	default:
		st.TACUnverifiable++
	}
	res := &TACResult{Device: d.ID, Epoch: v.epoch, Seq: r.Seq, Result: verdict, Reason: reason, CardNo: r.CardNo, Amount: r.Amount}
	tb, err := sub(tx, bucketTAC, v.space, true)
	if err != nil {
		return nil, err
	}
	return res, putJSON(tb, be64(r.Seq), res)
}

// resolveIntent moves intent id of the epoch space sp to state to (0 =
// resolved, removed).
func resolveIntent(tx *bolt.Tx, d *Device, sp string, id uint64, to byte) error {
	ib, err := sub(tx, bucketIntents, sp, true)
	if err != nil {
		return err
	}
	v := ib.Get(be64(id))
	if len(v) != 1 {
		return nil // intent before the ledger's history, or unknown: totals only count what it saw
	}
	switch v[0] {
	case intentOpen:
		d.Stats.OpenIntents--
	case intentUncertain:
		d.Stats.Uncertain--
	}
	if to == 0 {
		return ib.Delete(be64(id))
	}
	if to == intentUncertain {
		d.Stats.Uncertain++
	}
	return ib.Put(be64(id), []byte{to})
}

// OpenIntents returns the intents of a device's current journal epoch the
// ledger has seen opened and not resolved: id → "open" or "uncertain".
// (Those of closed epochs are in its Report.)
func (l *Ledger) OpenIntents(device string) (map[uint64]string, error) {
	var out map[uint64]string
	err := l.db.View(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, device)
		if err != nil {
			return err
		}
		out, err = openIntents(tx, space(device, d.Epoch))
		return err
	})
	return out, err
}

// openIntents returns the unresolved intents of epoch space sp.
func openIntents(tx *bolt.Tx, sp string) (map[uint64]string, error) {
	out := map[uint64]string{}
	ib, _ := sub(tx, bucketIntents, sp, false)
	if ib == nil {
		return out, nil
	}
	return out, ib.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return fmt.Errorf("ledger: intent key of %d bytes: %w", len(k), ErrCorrupt)
		}
		s := "open"
		if len(v) == 1 && v[0] == intentUncertain {
			s = "uncertain"
		}
		out[binary.BigEndian.Uint64(k)] = s
		return nil
	})
}

// Record returns the raw record at seq of a device's journal epoch 0, its
// first store (ErrNotFound); EpochRecord reads any epoch.
func (l *Ledger) Record(device string, seq uint64) ([]byte, error) {
	return l.EpochRecord(device, 0, seq)
}

// Flagged returns a device's flagged TAC verdicts (bad, unverifiable),
// of every journal epoch, oldest first.
func (l *Ledger) Flagged(device string) ([]TACResult, error) {
	var out []TACResult
	err := l.db.View(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, device)
		if err != nil {
			return err
		}
		for _, e := range d.epochs() {
			tb, _ := sub(tx, bucketTAC, space(device, e), false)
			if tb == nil {
				continue
			}
			if err := tb.ForEach(func(_, v []byte) error {
				var t TACResult
				if err := getJSONBytes(v, &t); err != nil {
					return err
				}
				out = append(out, t)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
