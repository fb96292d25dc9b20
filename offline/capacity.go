package offline

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Level is how full the store is, for the terminal to show.
type Level uint8

// Capacity levels.
const (
	LevelOK         Level = iota // room to spare
	LevelNearlyFull              // 80% of the room for new purchases is used: collect the journal soon
	LevelFull                    // new purchases are refused; outcomes of open intents still fit (the reserve)
)

// String is the message for the terminal's display.
func (l Level) String() string {
	switch l {
	case LevelOK:
		return "ok"
	case LevelNearlyFull:
		return "storage nearly full, collect the journal"
	default:
		return "storage full, collect the journal"
	}
}

// Capacity is the store's fill state. Unacked records are those the ledger
// has not acknowledged: they can never be dropped, so they are what fills.
type Capacity struct {
	Level      Level
	Unacked    uint64 // records after the sync cursor
	MaxUnacked uint64 // hard cap on Unacked
	Reserve    uint64 // records kept for outcomes and evidence once new purchases stop
	UsedBytes  int64  // bytes of the file in use (0 if the file has no cap)
	MaxBytes   int64  // Options.MaxSize; 0 for no cap
}

// Err returns nil, ErrNearlyFull or ErrStorageFull for the level.
func (c Capacity) Err() error {
	switch c.Level {
	case LevelOK:
		return nil
	case LevelNearlyFull:
		return ErrNearlyFull
	}
	return ErrStorageFull
}

// Capacity reports how full the store is.
func (s *Store) Capacity() (Capacity, error) {
	var c Capacity
	err := s.view("capacity", func(tx *bolt.Tx) error {
		h, err := s.readHead(tx)
		if err != nil {
			return err
		}
		c = s.capacity(tx, h.seq)
		return nil
	})
	return c, err
}

func (s *Store) capacity(tx *bolt.Tx, headSeq uint64) Capacity {
	c := Capacity{
		Unacked:    headSeq - ackedSeq(tx),
		MaxUnacked: s.opts.MaxUnacked,
		Reserve:    s.opts.Reserve,
		MaxBytes:   int64(s.opts.MaxSize),
	}
	// A reserve at or above the cap (a misconfiguration) leaves no room for
	// new purchases; it must not wrap around to no limit at all.
	soft := c.MaxUnacked - min(c.Reserve, c.MaxUnacked)
	full := c.Unacked >= soft
	nearly := c.Unacked >= soft/10*8
	if c.MaxBytes > 0 {
		c.UsedBytes = s.usedBytes(tx)
		softBytes := effectiveCap(s.opts.MaxSize) - int64(s.opts.ReserveBytes)
		full = full || c.UsedBytes >= softBytes
		nearly = nearly || c.UsedBytes >= softBytes/10*8
	}
	switch {
	case full:
		c.Level = LevelFull
	case nearly:
		c.Level = LevelNearlyFull
	}
	return c
}

// usedBytes is the high-water mark of the file minus its free pages: pages
// freed by Purge are reused before the file grows.
func (s *Store) usedBytes(tx *bolt.Tx) int64 {
	st := s.db.Stats()
	return tx.Size() - int64(st.FreePageN)*int64(s.db.Info().PageSize)
}

// checkRoom refuses a record when the store is full for its class: a new
// purchase stops at the reserve, evidence only at the hard cap.
func (s *Store) checkRoom(tx *bolt.Tx, headSeq uint64, class recordClass) error {
	if class == classEvidence {
		if headSeq-ackedSeq(tx) >= s.opts.MaxUnacked {
			return fmt.Errorf("offline: journal append: %d unacknowledged records: %w", s.opts.MaxUnacked, ErrStorageFull)
		}
		return nil
	}
	if c := s.capacity(tx, headSeq); c.Level == LevelFull {
		return fmt.Errorf("offline: journal append: %d unacknowledged records, %d bytes used: %w", c.Unacked, c.UsedBytes, ErrStorageFull)
	}
	return nil
}

func ackedSeq(tx *bolt.Tx) uint64 {
	v := tx.Bucket(bucketSync).Get(keyAcked)
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// effectiveCap is how far bbolt can really grow a file capped at max: it
// grows by doubling up to its allocation step (16 MiB) and by whole steps
// beyond, refusing any growth that would pass max.
func effectiveCap(max int) int64 {
	const step = 16 << 20 // bbolt's DefaultAllocSize (internal)
	if max > 2*step {
		return int64(max - step)
	}
	p := 32 << 10
	for p*2 <= max && p*2 <= step {
		p *= 2
	}
	return int64(p)
}
