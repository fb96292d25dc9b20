package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

func validateBatch(b *protocol.Batch, max int) error {
	switch {
	case !protocol.ValidDeviceID(b.DeviceID):
		return fmt.Errorf("ledger: batch: device id %q: %w", b.DeviceID, ErrMalformed)
	case len(b.Records) > max:
		return fmt.Errorf("ledger: batch of %d records, limit %d: %w", len(b.Records), max, ErrTooLarge)
	case b.FirstSeq == 0 || b.LastSeq < b.FirstSeq || len(b.Records) == 0:
		return fmt.Errorf("ledger: batch: range %d..%d: %w", b.FirstSeq, b.LastSeq, ErrMalformed)
	case b.LastSeq-b.FirstSeq+1 != uint64(len(b.Records)):
		return fmt.Errorf("ledger: batch: range %d..%d with %d records: %w", b.FirstSeq, b.LastSeq, len(b.Records), ErrMalformed)
	case len(b.PrevHead) != protocol.HashSize || len(b.NewHead) != protocol.HashSize:
		return fmt.Errorf("ledger: batch: head hashes must be %d bytes: %w", protocol.HashSize, ErrMalformed)
	}
	return nil
}

// Intake stores a batch exactly once and returns its Ack:
//
//   - records the ledger already holds byte-identically: the same Ack again
//     (the stored one for that batch number);
//   - FirstSeq beyond the high-water mark + 1: *GapError with Expected;
//   - different bytes under a held sequence: ErrFork, an Alert is recorded
//     and nothing is overwritten;
//   - PrevHead, a record's Prev or NewHead that do not chain from the held
//     head: ErrChainBroken;
//   - a record that does not decode canonically or has the wrong sequence:
//     ErrMalformed.
//
// A revoked device's batches are still taken (the server has checked them
// against its enrolled key): its remaining records are collected, counted
// in DeviceStats.CollectedAfterRevoke, and nothing they carry creates
// money (a reversal is an alert, never a load).
//
// A refused batch stores no record. New records are stored in order in one
// fsync'd transaction together with the device's new head, its totals, the
// TAC verdicts and the pending loads owed by reversals.
func (l *Ledger) Intake(b protocol.Batch) (protocol.Ack, error) {
	if err := validateBatch(&b, l.opts.MaxBatchRecords); err != nil {
		return protocol.Ack{}, err
	}
	var (
		ack     protocol.Ack
		refusal error
		flagged []TACResult
	)
	now := l.now().UTC()
	err := l.db.Update(func(tx *bolt.Tx) error {
		refusal, flagged = nil, nil
		d, err := getDevice(tx, b.DeviceID)
		if err != nil || d.PublicKey == nil {
			return fmt.Errorf("ledger: batch: device %q: %w", b.DeviceID, ErrUnknownDevice)
		}
		jb, err := sub(tx, bucketJournal, b.DeviceID, true)
		if err != nil {
			return err
		}
		decoded, ferr := l.check(tx, jb, &d, b, now)
		if ferr != nil {
			refusal = ferr
			return putDevice(tx, d) // refusal counters and alert, no records
		}
		if decoded == nil { // everything already held
			ack, err = duplicateAck(tx, b, now)
			return err
		}
		start := d.HighWater + 1
		for i, r := range decoded {
			raw := b.Records[int(start-b.FirstSeq)+i]
			if err := jb.Put(be64(r.Seq), raw); err != nil {
				return err
			}
			f, err := l.account(tx, &d, &r, b.BatchNo, now)
			if err != nil {
				return err
			}
			if f != nil {
				flagged = append(flagged, *f)
			}
		}
		d.HighWater, d.Head = b.LastSeq, bytes.Clone(b.NewHead)
		d.Stats.Batches++
		d.Stats.LastBatch = now
		if err := putDevice(tx, d); err != nil {
			return err
		}
		ack = protocol.Ack{DeviceID: b.DeviceID, BatchNo: b.BatchNo, AckedThrough: b.LastSeq, Head: bytes.Clone(b.NewHead), ServerTime: now.UnixMilli()}
		ab, err := sub(tx, bucketAcks, b.DeviceID, true)
		if err != nil {
			return err
		}
		return putJSON(ab, be64(b.BatchNo), ack)
	})
	if err != nil {
		return protocol.Ack{}, err
	}
	if refusal != nil {
		l.log.Warn("batch refused", "device", b.DeviceID, "batch", b.BatchNo, "first", b.FirstSeq, "last", b.LastSeq, "err", refusal)
		return protocol.Ack{}, refusal
	}
	for _, f := range flagged {
		l.log.Warn("TAC flagged", "device", f.Device, "seq", f.Seq, "result", f.Result, "reason", f.Reason)
	}
	l.log.Info("batch acknowledged", "device", b.DeviceID, "batch", b.BatchNo, "first", b.FirstSeq, "last", b.LastSeq, "acked_through", ack.AckedThrough)
	return ack, nil
}

// check validates b against the held journal without writing records. It
// returns the decoded new records (nil when all are held), or the refusal,
// having updated d's refusal counters (and recorded a fork alert).
func (l *Ledger) check(tx *bolt.Tx, jb *bolt.Bucket, d *Device, b protocol.Batch, now time.Time) ([]protocol.Record, error) {
	h := d.HighWater
	if b.FirstSeq > h+1 {
		d.Stats.Gaps++
		return nil, &GapError{Expected: h + 1, Got: b.FirstSeq}
	}
	for seq := b.FirstSeq; seq <= min(b.LastSeq, h); seq++ {
		offered := b.Records[seq-b.FirstSeq]
		held := jb.Get(be64(seq))
		if bytes.Equal(held, offered) {
			continue
		}
		d.Stats.Forks++
		hh := protocol.RecordHash(held)
		n, err := putAlert(tx, Alert{Kind: AlertFork, Device: b.DeviceID, Seq: seq, BatchNo: b.BatchNo, HeldHash: hh[:],
			OfferedRaw: bytes.Clone(offered), Reason: "different record under a held sequence", Time: now})
		if err != nil {
			return nil, err
		}
		l.log.Error("journal fork: different record under a held sequence", "device", b.DeviceID, "seq", seq, "batch", b.BatchNo, "alert", n)
		return nil, fmt.Errorf("ledger: batch: record %d differs from the one held (alert %d): %w", seq, n, ErrFork)
	}
	want := protocol.GenesisHash(b.DeviceID)
	if b.FirstSeq > 1 {
		want = protocol.RecordHash(jb.Get(be64(b.FirstSeq - 1)))
	}
	if !bytes.Equal(b.PrevHead, want[:]) {
		d.Stats.ChainBroken++
		return nil, fmt.Errorf("ledger: batch: prev head does not match the hash of record %d: %w", b.FirstSeq-1, ErrChainBroken)
	}
	if b.LastSeq <= h {
		last := protocol.RecordHash(b.Records[len(b.Records)-1])
		if !bytes.Equal(b.NewHead, last[:]) {
			d.Stats.ChainBroken++
			return nil, fmt.Errorf("ledger: batch: new head is not the hash of record %d: %w", b.LastSeq, ErrChainBroken)
		}
		return nil, nil
	}
	prev := d.Head
	out := make([]protocol.Record, 0, b.LastSeq-h)
	for seq := h + 1; seq <= b.LastSeq; seq++ {
		raw := b.Records[seq-b.FirstSeq]
		r, err := protocol.DecodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("ledger: batch: record %d: %w: %w", seq, ErrMalformed, err)
		}
		if r.Seq != seq {
			return nil, fmt.Errorf("ledger: batch: record at %d says sequence %d: %w", seq, r.Seq, ErrMalformed)
		}
		if !bytes.Equal(r.Prev, prev) {
			d.Stats.ChainBroken++
			return nil, fmt.Errorf("ledger: batch: record %d does not link to record %d: %w", seq, seq-1, ErrChainBroken)
		}
		hh := protocol.RecordHash(raw)
		prev = hh[:]
		out = append(out, r)
	}
	if !bytes.Equal(prev, b.NewHead) {
		d.Stats.ChainBroken++
		return nil, fmt.Errorf("ledger: batch: new head is not the hash of record %d: %w", b.LastSeq, ErrChainBroken)
	}
	return out, nil
}

// duplicateAck answers a batch whose records are all held: the Ack stored
// for its batch number when it acknowledged the same range, else a new one
// (kept for the next retry).
func duplicateAck(tx *bolt.Tx, b protocol.Batch, now time.Time) (protocol.Ack, error) {
	ab, err := sub(tx, bucketAcks, b.DeviceID, true)
	if err != nil {
		return protocol.Ack{}, err
	}
	var old protocol.Ack
	if err := getJSON(ab, be64(b.BatchNo), &old); err == nil && old.AckedThrough == b.LastSeq {
		return old, nil
	}
	ack := protocol.Ack{DeviceID: b.DeviceID, BatchNo: b.BatchNo, AckedThrough: b.LastSeq, Head: bytes.Clone(b.NewHead), ServerTime: now.UnixMilli()}
	if ab.Get(be64(b.BatchNo)) == nil {
		if err := putJSON(ab, be64(b.BatchNo), ack); err != nil {
			return protocol.Ack{}, err
		}
	}
	return ack, nil
}

// Intent states kept per device.
const (
	intentOpen      byte = 1
	intentUncertain byte = 2
)

// account updates the device's totals, intents, card knowledge, TAC
// verdicts and reversal loads for one new record.
func (l *Ledger) account(tx *bolt.Tx, d *Device, r *protocol.Record, batchNo uint64, now time.Time) (*TACResult, error) {
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
		ib, err := sub(tx, bucketIntents, d.ID, true)
		if err != nil {
			return nil, err
		}
		st.OpenIntents++
		if err := ib.Put(be64(r.Seq), []byte{intentOpen}); err != nil {
			return nil, err
		}
	case protocol.KindPurchaseCompleted, protocol.KindPurchaseVoided:
		if err := resolveIntent(tx, d, r.IntentID, 0); err != nil {
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
		sb, err := sub(tx, bucketSales, d.ID, true)
		if err != nil {
			return nil, err
		}
		if err := noteSale(sb, r, verdict); err != nil {
			return nil, err
		}
	case protocol.KindPurchaseUncertain:
		if err := resolveIntent(tx, d, r.IntentID, intentUncertain); err != nil {
			return nil, err
		}
	case protocol.KindLoad:
		st.Loads += r.Amount
		st.LoadCount++
		verdict, reason = l.CheckLoadTAC(r)
	case protocol.KindPurchaseReversed:
		sb, err := sub(tx, bucketSales, d.ID, true)
		if err != nil {
			return nil, err
		}
		if err := l.reversal(tx, sb, d, r, batchNo, now); err != nil {
			return nil, err
		}
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
	res := &TACResult{Device: d.ID, Seq: r.Seq, Result: verdict, Reason: reason, CardNo: r.CardNo, Amount: r.Amount}
	tb, err := sub(tx, bucketTAC, d.ID, true)
	if err != nil {
		return nil, err
	}
	return res, putJSON(tb, be64(r.Seq), res)
}

// resolveIntent moves intent id to state to (0 = resolved, removed).
func resolveIntent(tx *bolt.Tx, d *Device, id uint64, to byte) error {
	ib, err := sub(tx, bucketIntents, d.ID, true)
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

// OpenIntents returns a device's intents the ledger has seen opened and not
// resolved: id → "open" or "uncertain".
func (l *Ledger) OpenIntents(device string) (map[uint64]string, error) {
	out := map[uint64]string{}
	err := l.db.View(func(tx *bolt.Tx) error {
		ib, _ := sub(tx, bucketIntents, device, false)
		if ib == nil {
			return nil
		}
		return ib.ForEach(func(k, v []byte) error {
			s := "open"
			if len(v) == 1 && v[0] == intentUncertain {
				s = "uncertain"
			}
			out[binary.BigEndian.Uint64(k)] = s
			return nil
		})
	})
	return out, err
}

// Record returns the raw record a device's journal holds at seq (ErrNotFound).
func (l *Ledger) Record(device string, seq uint64) ([]byte, error) {
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		jb, _ := sub(tx, bucketJournal, device, false)
		if jb == nil {
			return ErrNotFound
		}
		v := jb.Get(be64(seq))
		if v == nil {
			return ErrNotFound
		}
		out = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: record %s/%d: %w", device, seq, err)
	}
	return out, nil
}

// Flagged returns a device's flagged TAC verdicts (bad, unverifiable).
func (l *Ledger) Flagged(device string) ([]TACResult, error) {
	var out []TACResult
	err := l.db.View(func(tx *bolt.Tx) error {
		tb, _ := sub(tx, bucketTAC, device, false)
		if tb == nil {
			return nil
		}
		return tb.ForEach(func(_, v []byte) error {
			var t TACResult
			if err := getJSONBytes(v, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	return out, err
}
