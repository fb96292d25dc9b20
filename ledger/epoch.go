package ledger

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Alert kinds of journal epochs.
const (
	// AlertEpochClosed: a device started a new journal epoch (its store
	// was started anew, yktd run --new-store), which closed the epoch
	// before. Epoch is the closed epoch, HighWater its last record held;
	// records it may have had after HighWater never reached the ledger,
	// and Stranded lists its purchase intents left open or uncertain
	// (money whose outcome the ledger will not learn from that store).
	AlertEpochClosed = "epoch-closed"
	// AlertClosedEpochRecords: records of an epoch already closed arrived
	// and were taken because they extend it (the old store came back);
	// Epoch, Seq (the first) and BatchNo say which.
	AlertClosedEpochRecords = "closed-epoch-records"
)

// EpochState is a closed journal epoch of a device: what the ledger holds
// of it. It is kept for ever; records that extend it are still taken.
type EpochState struct {
	Epoch     uint64    `json:"epoch"`
	HighWater uint64    `json:"high_water"`
	Head      []byte    `json:"head"`
	Closed    time.Time `json:"closed"`
	// Started is the time of its store-started record (zero for epoch 0).
	Started time.Time `json:"started,omitzero"`
	// Late counts its records received after it was closed.
	Late uint64 `json:"late,omitempty"`
}

// space names a device's journal epoch in the per-device buckets
// (journal, acks, intents, TAC verdicts, sales): the device id for epoch
// 0 (the layout before epochs), else the id, a 0 byte (never in a device
// id) and be64(epoch).
func space(device string, epoch uint64) string {
	if epoch == 0 {
		return device
	}
	return device + "\x00" + string(be64(epoch))
}

// epochs returns every epoch of d, closed ones first, the current last.
func (d *Device) epochs() []uint64 {
	out := make([]uint64, 0, len(d.Closed)+1)
	for _, c := range d.Closed {
		out = append(out, c.Epoch)
	}
	return append(out, d.Epoch)
}

// view is the journal epoch a batch goes to, as Intake sees it.
type view struct {
	epoch uint64
	space string
	hw    uint64
	head  []byte
	// open: the batch opens this epoch, closing d's current one;
	// closed: the index in d.Closed of the epoch (-1: current or opening;
	// len(d.Closed) for a closed epoch the ledger never saw).
	open   bool
	closed int
}

// viewOf places batch epoch e: the current epoch, a later one it would
// open, or an earlier (closed) one.
func viewOf(d *Device, e uint64) view {
	v := view{epoch: e, space: space(d.ID, e), closed: -1}
	switch {
	case e == d.Epoch:
		v.hw, v.head = d.HighWater, d.Head
		return v
	case e > d.Epoch:
		v.open = true
	default:
		v.closed = len(d.Closed)
		for i, c := range d.Closed {
			if c.Epoch == e {
				v.closed, v.hw, v.head = i, c.HighWater, c.Head
				return v
			}
		}
	}
	g := protocol.EpochGenesis(d.ID, e)
	v.head = g[:]
	return v
}

// advance records that the epoch of v now holds records through last with
// head; for a batch that opens an epoch, the current one is closed first
// (AlertEpochClosed); for a closed epoch, the late records are counted
// (AlertClosedEpochRecords).
func (l *Ledger) advance(tx *bolt.Tx, d *Device, v view, b *protocol.Batch, n uint64, now time.Time) error {
	switch {
	case v.open:
		if err := l.closeEpoch(tx, d, b.Epoch, now); err != nil {
			return err
		}
		d.Epoch = b.Epoch
		fallthrough
	case v.closed < 0:
		d.HighWater, d.Head = b.LastSeq, bytes.Clone(b.NewHead)
		if !d.started.IsZero() && d.Epoch > 0 {
			d.EpochStarted = d.started
		}
		return nil
	}
	if v.closed == len(d.Closed) {
		d.Closed = append(d.Closed, EpochState{Epoch: v.epoch, Closed: now, Started: d.started})
	}
	c := &d.Closed[v.closed]
	c.HighWater, c.Head, c.Late = b.LastSeq, bytes.Clone(b.NewHead), c.Late+n
	slices.SortFunc(d.Closed, func(a, b EpochState) int { return cmp.Compare(a.Epoch, b.Epoch) })
	na, err := putAlert(tx, Alert{Kind: AlertClosedEpochRecords, Device: d.ID, Epoch: v.epoch, Seq: b.LastSeq - n + 1, BatchNo: b.BatchNo, Time: now,
		Reason: fmt.Sprintf("records %d..%d of closed epoch %d arrived while the device is in epoch %d (its old store is back?): taken, they extend it", b.LastSeq-n+1, b.LastSeq, v.epoch, d.Epoch)})
	if err != nil {
		return err
	}
	l.log.Warn("records of a closed journal epoch collected", "device", d.ID, "epoch", v.epoch, "first", b.LastSeq-n+1, "last", b.LastSeq, "current_epoch", d.Epoch, "alert", na)
	return nil
}

// closeEpoch closes d's current epoch because next begins: its state is
// kept in d.Closed and an AlertEpochClosed lists its stranded intents.
func (l *Ledger) closeEpoch(tx *bolt.Tx, d *Device, next uint64, now time.Time) error {
	intents, err := openIntents(tx, space(d.ID, d.Epoch))
	if err != nil {
		return err
	}
	stranded := make([]uint64, 0, len(intents))
	for id := range intents {
		stranded = append(stranded, id)
	}
	slices.Sort(stranded)
	d.Closed = append(d.Closed, EpochState{Epoch: d.Epoch, HighWater: d.HighWater, Head: d.Head, Closed: now, Started: d.EpochStarted})
	d.EpochStarted = time.Time{}
	why := fmt.Sprintf("epoch %d began (store started anew): epoch %d closed at record %d; any record it had after %d never reached the ledger", next, d.Epoch, d.HighWater, d.HighWater)
	if len(stranded) > 0 {
		why += fmt.Sprintf("; %d purchase intents left without an outcome", len(stranded))
	}
	n, err := putAlert(tx, Alert{Kind: AlertEpochClosed, Device: d.ID, Epoch: d.Epoch, Seq: d.HighWater, HighWater: d.HighWater, Stranded: stranded, Reason: why, Time: now})
	if err != nil {
		return err
	}
	l.log.Warn("journal epoch closed: the device started a new store", "device", d.ID, "closed_epoch", d.Epoch, "high_water", d.HighWater,
		"new_epoch", next, "stranded_intents", len(stranded), "alert", n)
	return nil
}

// checkEpochStart checks the first record of an epoch after 0: it must be
// store-started naming the epoch.
func checkEpochStart(epoch uint64, r *protocol.Record) error {
	if epoch == 0 || r.Seq != 1 {
		return nil
	}
	if r.Kind != protocol.KindStoreStarted || r.Version != epoch {
		return fmt.Errorf("ledger: batch: record 1 of epoch %d is %s version %d, not store-started of that epoch: %w", epoch, r.Kind, r.Version, ErrMalformed)
	}
	return nil
}

// EpochRecord returns the raw record at seq of a device's journal epoch
// (ErrNotFound).
func (l *Ledger) EpochRecord(device string, epoch, seq uint64) ([]byte, error) {
	var out []byte
	err := l.db.View(func(tx *bolt.Tx) error {
		jb, _ := sub(tx, bucketJournal, space(device, epoch), false)
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
		return nil, fmt.Errorf("ledger: record %s epoch %d seq %d: %w", device, epoch, seq, err)
	}
	return out, nil
}
