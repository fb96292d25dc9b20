package ledger

import (
	"bytes"
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

// Intake stores a batch exactly once, in the device's journal epoch the
// batch names (Batch.Epoch), and returns its Ack (which echoes the epoch).
// Within an epoch:
//
//   - records the ledger already holds byte-identically: the same Ack again
//     (the stored one for that batch number);
//   - FirstSeq beyond the high-water mark + 1: *GapError with Expected;
//   - different bytes under a held sequence: ErrFork, an Alert is recorded
//     and nothing is overwritten;
//   - PrevHead, a record's Prev or NewHead that do not chain from the held
//     head (EpochGenesis for sequence 1): ErrChainBroken;
//   - a record that does not decode canonically or has the wrong sequence,
//     or an epoch after 0 whose record 1 is not store-started of that
//     epoch: ErrMalformed.
//
// Epochs: a batch of an epoch after the device's current one is that
// epoch's start (a store started anew over the same identity): the rules
// above apply to it as to an empty journal (so it must start at 1, linked
// to the epoch's genesis) and, once it is taken, the current epoch is
// closed (its records and high-water mark kept, AlertEpochClosed with its
// stranded intents) and the new one is current. A batch of an earlier
// epoch goes to that closed epoch under the same rules: records that
// extend it are taken (AlertClosedEpochRecords), so nothing checkable is
// stranded; a gap, fork or broken chain there is refused as anywhere.
//
// A revoked device's batches are still taken (the server has checked them
// against its enrolled key): its remaining records are collected, counted
// in DeviceStats.CollectedAfterRevoke, and nothing they carry creates
// money (a reversal is an alert, never a load).
//
// A record carrying a PSAM terminal id other than the device's bound one
// is taken like any other, and holds the device (PSAMBinding, with an
// alert); the Ack names the hold (Held) as it is when it is answered, a
// duplicate's Ack too.
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
		held    protocol.Code
	)
	now := l.now().UTC()
	err := l.db.Update(func(tx *bolt.Tx) error {
		refusal, flagged = nil, nil
		d, err := getDevice(tx, b.DeviceID)
		if err != nil || d.PublicKey == nil {
			return fmt.Errorf("ledger: batch: device %q: %w", b.DeviceID, ErrUnknownDevice)
		}
		v := viewOf(&d, b.Epoch)
		jb, err := sub(tx, bucketJournal, v.space, true)
		if err != nil {
			return err
		}
		decoded, ferr := l.check(tx, jb, &d, v, b, now)
		if ferr != nil {
			refusal = ferr
			return putDevice(tx, d) // refusal counters and alert, no records
		}
		held = d.HeldCode()
		if decoded == nil { // everything already held
			ack, err = duplicateAck(tx, v.space, b, now)
			return err
		}
		start := v.hw + 1
		for i, r := range decoded {
			raw := b.Records[int(start-b.FirstSeq)+i]
			if err := jb.Put(be64(r.Seq), raw); err != nil {
				return err
			}
			f, err := l.account(tx, &d, v, &r, b.BatchNo, now)
			if err != nil {
				return err
			}
			if f != nil {
				flagged = append(flagged, *f)
			}
			if err := l.bindRecord(tx, &d, v, &r, now); err != nil {
				return err
			}
		}
		held = d.HeldCode()
		if err := l.advance(tx, &d, v, &b, uint64(len(decoded)), now); err != nil {
			return err
		}
		d.Stats.Batches++
		d.Stats.LastBatch = now
		if err := putDevice(tx, d); err != nil {
			return err
		}
		ack = newAck(b, now)
		ab, err := sub(tx, bucketAcks, v.space, true)
		if err != nil {
			return err
		}
		return putJSON(ab, be64(b.BatchNo), ack)
	})
	if err != nil {
		return protocol.Ack{}, err
	}
	ack.Held = held // the hold as it is now, not stored with the ack
	if refusal != nil {
		l.log.Warn("batch refused", "device", b.DeviceID, "epoch", b.Epoch, "batch", b.BatchNo, "first", b.FirstSeq, "last", b.LastSeq, "err", refusal)
		return protocol.Ack{}, refusal
	}
	for _, f := range flagged {
		l.log.Warn("TAC flagged", "device", f.Device, "epoch", f.Epoch, "seq", f.Seq, "result", f.Result, "reason", f.Reason)
	}
	l.log.Info("batch acknowledged", "device", b.DeviceID, "epoch", b.Epoch, "batch", b.BatchNo, "first", b.FirstSeq, "last", b.LastSeq, "acked_through", ack.AckedThrough)
	return ack, nil
}

func newAck(b protocol.Batch, now time.Time) protocol.Ack {
	return protocol.Ack{DeviceID: b.DeviceID, BatchNo: b.BatchNo, AckedThrough: b.LastSeq, Head: bytes.Clone(b.NewHead),
		ServerTime: now.UnixMilli(), Epoch: b.Epoch}
}

// check validates b against what the epoch v holds without writing
// records. It returns the decoded new records (nil when all are held), or
// the refusal, having updated d's refusal counters (and recorded a fork
// alert).
func (l *Ledger) check(tx *bolt.Tx, jb *bolt.Bucket, d *Device, v view, b protocol.Batch, now time.Time) ([]protocol.Record, error) {
	h := v.hw
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
		n, err := putAlert(tx, Alert{Kind: AlertFork, Device: b.DeviceID, Epoch: v.epoch, Seq: seq, BatchNo: b.BatchNo, HeldHash: hh[:],
			OfferedRaw: bytes.Clone(offered), Reason: "different record under a held sequence", Time: now})
		if err != nil {
			return nil, err
		}
		l.log.Error("journal fork: different record under a held sequence", "device", b.DeviceID, "epoch", v.epoch, "seq", seq, "batch", b.BatchNo, "alert", n)
		return nil, fmt.Errorf("ledger: batch: record %d differs from the one held (alert %d): %w", seq, n, ErrFork)
	}
	want := protocol.EpochGenesis(b.DeviceID, v.epoch)
	if b.FirstSeq > 1 {
		want = protocol.RecordHash(jb.Get(be64(b.FirstSeq - 1)))
	}
	if !bytes.Equal(b.PrevHead, want[:]) {
		d.Stats.ChainBroken++
		return nil, fmt.Errorf("ledger: batch: prev head does not match the hash of record %d of epoch %d: %w", b.FirstSeq-1, v.epoch, ErrChainBroken)
	}
	if b.LastSeq <= h {
		last := protocol.RecordHash(b.Records[len(b.Records)-1])
		if !bytes.Equal(b.NewHead, last[:]) {
			d.Stats.ChainBroken++
			return nil, fmt.Errorf("ledger: batch: new head is not the hash of record %d: %w", b.LastSeq, ErrChainBroken)
		}
		return nil, nil
	}
	prev := v.head
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
		if err := checkEpochStart(v.epoch, &r); err != nil {
			return nil, err
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
// for its batch number in the epoch's space when it acknowledged the same
// range, else a new one (kept for the next retry).
func duplicateAck(tx *bolt.Tx, sp string, b protocol.Batch, now time.Time) (protocol.Ack, error) {
	ab, err := sub(tx, bucketAcks, sp, true)
	if err != nil {
		return protocol.Ack{}, err
	}
	var old protocol.Ack
	if err := getJSON(ab, be64(b.BatchNo), &old); err == nil && old.AckedThrough == b.LastSeq {
		return old, nil
	}
	ack := newAck(b, now)
	if ab.Get(be64(b.BatchNo)) == nil {
		if err := putJSON(ab, be64(b.BatchNo), ack); err != nil {
			return protocol.Ack{}, err
		}
	}
	return ack, nil
}
