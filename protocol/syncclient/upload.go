package syncclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
)

// UploadResult says what one SyncOnce did.
type UploadResult struct {
	Batches int    // batches acknowledged
	Records int    // records newly acknowledged
	Cursor  uint64 // the acknowledged-through sequence afterwards
	Head    uint64 // the journal head seen
	// ServerTime is the ledger's clock in the last verified ack (zero if
	// none): an outside reference for the device's clock.
	ServerTime time.Time
}

// maxSkew is how far the device clock may be from the ledger's before the
// client warns: offline timestamps are evidence.
const maxSkew = 2 * time.Minute

// SyncOnce uploads the journal from the cursor to the head in batches and
// moves the cursor on each verified acknowledgement. It returns when
// everything is acknowledged, or at the first error (the cursor then stays
// where the last verified ack put it; records are sent again next time and
// the ledger answers a duplicate with the same ack).
//
// A gap answer (409, Expected) is handled like this:
//   - Expected in (cursor+1, head+1]: the ledger holds more than the
//     device knows was acknowledged (an ack lost on the way back, from a
//     batch the ledger committed). Upload resumes at Expected with
//     PrevHead = the hash of record Expected-1; the ledger checks that link,
//     so a wrong Expected cannot make it accept a broken chain, and the
//     cursor still moves only on the signed ack of what was sent.
//   - Expected ≤ cursor: the ledger lost records it had acknowledged
//     (restored from an old backup, another ledger). The device must not
//     rewind its cursor: acknowledged records may already be purged, and
//     a silent rewind would hide the ledger's loss. SyncOnce logs it as an
//     error and returns a FatalError wrapping ErrLedgerBehind; an operator
//     decides (restore the ledger, export the journal to USB).
//   - Expected > head+1: the ledger holds records this device never wrote
//     (a store replaced under the same device id). FatalError wrapping
//     ErrLedgerAhead.
//
// Fork and chain-broken answers are FatalErrors too, logged as errors:
// the ledger refused to overwrite evidence and recorded an alert.
func (c *Client) SyncOnce(ctx context.Context) (UploadResult, error) {
	var res UploadResult
	if c.o.Journal == nil {
		return res, errors.New("syncclient: no journal")
	}
	if c.o.LedgerKeys == nil {
		return res, ErrNotEnrolled
	}
	cur, curHash, err := c.o.Journal.Cursor()
	if err != nil {
		return res, fmt.Errorf("syncclient: read cursor: %w", err)
	}
	headSeq, _, err := c.o.Journal.Head()
	if err != nil {
		return res, fmt.Errorf("syncclient: read journal head: %w", err)
	}
	res.Cursor, res.Head = cur, headSeq
	after, prev := cur, curHash // the batch starts after record `after`, whose hash is prev
	gaps := 0                   // gap answers in a row: an honest ledger needs one
	limit := c.o.BatchSize      // records per batch; halved when the ledger finds a batch too large
	for after < headSeq {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		recs, err := c.o.Journal.RawRecords(after, limit)
		if err != nil {
			return res, fmt.Errorf("syncclient: read records after %d: %w", after, err)
		}
		if len(recs) == 0 {
			break
		}
		recs = c.fit(recs)
		// The batch number is the last sequence: stable across restarts
		// and resends, so a resent batch is the same batch.
		b, err := protocol.NewBatch(c.o.DeviceID, after+uint64(len(recs)), prev, recs)
		if err != nil {
			return res, fmt.Errorf("syncclient: cut batch after %d: %w", after, err)
		}
		b.Epoch = c.epoch()
		if b.FirstSeq != after+1 || b.BatchNo != b.LastSeq {
			return res, fmt.Errorf("syncclient: records after %d start at %d (purged?)", after, b.FirstSeq)
		}
		ack, err := c.sendBatch(ctx, &b)
		var pe *protocol.Error
		switch {
		case err == nil:
		case errors.As(err, &pe) && pe.Code == protocol.CodeGap:
			if gaps++; gaps > 2 {
				return res, fmt.Errorf("syncclient: ledger answers gap after gap (expected %d): %w", pe.Expected, err)
			}
			cur, curHash, cerr := c.o.Journal.Cursor()
			if cerr != nil {
				return res, fmt.Errorf("syncclient: read cursor: %w", cerr)
			}
			switch exp := pe.Expected; {
			case exp <= cur:
				c.log.Error("ledger is behind the acknowledged cursor: it lost records it had acknowledged; upload stopped, nothing rewound",
					"ledger_expects", exp, "acked_through", cur)
				return res, &FatalError{fmt.Errorf("syncclient: ledger expects %d, acknowledged through %d: %w: %w", exp, cur, ErrLedgerBehind, err)}
			case exp > headSeq+1:
				c.log.Error("ledger is ahead of this journal: it holds records this device never wrote; upload stopped",
					"ledger_expects", exp, "journal_head", headSeq)
				return res, &FatalError{fmt.Errorf("syncclient: ledger expects %d, journal ends at %d: %w: %w", exp, headSeq, ErrLedgerAhead, err)}
			}
			h := curHash // the record at the cursor may be purged
			if pe.Expected-1 != cur {
				var herr error
				if h, herr = c.recordHash(pe.Expected - 1); herr != nil {
					return res, herr
				}
			}
			c.log.Info("ledger already holds records past the cursor (an ack was lost); resuming where it expects",
				"acked_through", cur, "ledger_expects", pe.Expected)
			after, prev = pe.Expected-1, h
			continue
		case errors.As(err, &pe) && pe.Code == protocol.CodeTooLarge && len(recs) > 1:
			// The ledger (or its configuration) takes smaller batches than
			// ours: halve until it fits; a batch of one that is still too
			// large is an error like any other.
			limit = max(len(recs)/2, 1)
			c.log.Warn("ledger refused the batch as too large; sending smaller batches", "records", len(recs), "next", limit)
			continue
		case errors.As(err, &pe) && (pe.Code == protocol.CodeFork || pe.Code == protocol.CodeChainBroken):
			c.log.Error("LEDGER REFUSED THE JOURNAL: it holds different records under these sequences or the chain does not link; upload stopped. Export the journal and call the operator.",
				"code", pe.Code.String(), "first", b.FirstSeq, "last", b.LastSeq, "message", pe.Message)
			return res, &FatalError{err}
		default:
			return res, c.deviceRefused(protocol.PathBatches, err)
		}
		if err := c.o.Journal.Ack(ack.AckedThrough, ack.HeadHash()); err != nil {
			return res, fmt.Errorf("syncclient: store ack through %d: %w", ack.AckedThrough, err)
		}
		c.contacted()
		c.heldIs(ack.Held != 0, protocol.PathBatches)
		gaps = 0
		res.ServerTime = time.UnixMilli(ack.ServerTime).UTC()
		if skew := c.noteSkew(c.o.Clock.Now(), res.ServerTime); skew > maxSkew || skew < -maxSkew {
			c.log.Warn("device clock differs from the ledger's; check the time source", "skew", skew.Round(time.Second).String(), "ledger_time", res.ServerTime)
		}
		c.log.Debug("batch acknowledged", "first", b.FirstSeq, "last", b.LastSeq, "records", len(b.Records))
		res.Records += int(b.LastSeq - res.Cursor)
		res.Cursor = b.LastSeq
		res.Batches++
		after, prev = b.LastSeq, ack.HeadHash()
	}
	return res, nil
}

// fit drops records from the end until the batch's encoding fits in
// protocol.MaxBatchSize (with room for the COSE envelope).
func (c *Client) fit(recs [][]byte) [][]byte {
	total := 0
	for i, r := range recs {
		total += len(r) + 3
		if total > c.bytes {
			return recs[:max(i, 1)]
		}
	}
	return recs
}

// epoch returns the journal's epoch (0 unless the Journal is an Epocher).
func (c *Client) epoch() uint64 {
	if e, ok := c.o.Journal.(Epocher); ok {
		return e.Epoch()
	}
	return 0
}

// recordHash returns the hash of record seq (the epoch's genesis for 0).
func (c *Client) recordHash(seq uint64) ([protocol.HashSize]byte, error) {
	if seq == 0 {
		return protocol.EpochGenesis(c.o.DeviceID, c.epoch()), nil
	}
	r, err := c.o.Journal.RawRecords(seq-1, 1)
	if err != nil || len(r) != 1 {
		return [protocol.HashSize]byte{}, fmt.Errorf("syncclient: read record %d: %d records, %w", seq, len(r), err)
	}
	return protocol.RecordHash(r[0]), nil
}

// sendBatch signs b, posts it and returns the verified Ack that names
// exactly b.
func (c *Client) sendBatch(ctx context.Context, b *protocol.Batch) (protocol.Ack, error) {
	raw, err := c.seal(b)
	if err != nil {
		return protocol.Ack{}, fmt.Errorf("syncclient: sign batch %d..%d: %w", b.FirstSeq, b.LastSeq, err)
	}
	a, err := c.post(ctx, "v1/batches", raw, protocol.MaxAckSize+protocol.MaxEnvelopeOverhead)
	if err != nil {
		return protocol.Ack{}, err
	}
	if a.status != 200 {
		return protocol.Ack{}, &retryError{fmt.Errorf("syncclient: batch %d..%d: HTTP %d without an ack: %w", b.FirstSeq, b.LastSeq, a.status, ErrResponse)}
	}
	ack, _, err := protocol.Open[protocol.Ack](c.o.LedgerKeys, a.body, c.o.DeviceID)
	if err != nil {
		c.log.Warn("ledger's acknowledgement refused; cursor not moved", "batch", b.BatchNo, "err", err)
		return protocol.Ack{}, &retryError{fmt.Errorf("syncclient: batch %d..%d: ack: %w", b.FirstSeq, b.LastSeq, err)}
	}
	if ack.DeviceID != c.o.DeviceID || ack.Epoch != b.Epoch || ack.BatchNo != b.BatchNo || ack.AckedThrough != b.LastSeq || !bytes.Equal(ack.Head, b.NewHead) {
		c.log.Warn("ledger acknowledged something other than the batch sent; cursor not moved",
			"batch", b.BatchNo, "sent_last", b.LastSeq, "acked_through", ack.AckedThrough, "ack_device", ack.DeviceID)
		return protocol.Ack{}, &retryError{fmt.Errorf("syncclient: batch %d..%d: ack through %d: %w", b.FirstSeq, b.LastSeq, ack.AckedThrough, ErrBadAck)}
	}
	return ack, nil
}
