package offline

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// keyProbe in bucketSync holds Probe's counter (be64); nothing reads it.
var keyProbe = []byte("probe")

// Probe commits one small fsync'd write (a counter in the sync bucket):
// it succeeds only while the store accepts writes. The daemon's watchdog
// calls it when no sale proved that lately, so that a store whose disk
// hangs or fails stops the watchdog's pets.
func (s *Store) Probe() error {
	return s.update("probe", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSync)
		var n uint64
		if v := b.Get(keyProbe); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		return b.Put(keyProbe, be64(n+1))
	})
}
