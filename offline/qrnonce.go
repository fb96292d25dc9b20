package offline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors of the QR nonce cache.
var (
	// ErrNonceCacheFull: the QR nonce cache holds MaxNonces unexpired
	// nonces; the token is refused (a replay cannot be ruled out) until
	// some expire.
	ErrNonceCacheFull = errors.New("QR nonce cache full")
	// ErrNonceExpired: the token's expiry is not after the latest time the
	// store has seen (LatestTime): its nonce may have been purged, so it
	// is refused as expired, whatever the clock says now. After the clock
	// was set back (or corrected after a jump ahead), QR tokens are
	// refused so until the clock passes that time again.
	ErrNonceExpired = errors.New("QR token expired by the latest time the store has seen")
)

// Limits of the QR nonce cache.
const (
	// MaxNonces bounds the nonces remembered at once. Campus QR tokens live
	// about a minute; 100,000 is far beyond any gate's rate over a minute.
	MaxNonces = 100_000
	// MaxNonceLifetime is how far ahead of the store's clock a nonce's
	// expiry may be: a longer one is refused, so that nobody fills the
	// cache with entries that never go.
	MaxNonceLifetime = time.Hour
	// MinNonceSize and MaxNonceSize bound a nonce (QR claims: 8..32 bytes).
	MinNonceSize = 8
	MaxNonceSize = 64
	// purgeNoncesBatch bounds the nonces one PurgeNonces call forgets.
	purgeNoncesBatch = 10_000
)

// nonceCap is MaxNonces; a variable so that tests can fill the cache.
var nonceCap uint64 = MaxNonces

// Layout (schema 5): qrnonce maps nonce → be64(expiry, Unix ms); qrexpiry
// maps be64(expiry) ‖ nonce → empty, the same entries in expiry order for
// purging; meta "qrcount" holds how many there are. Meta "latest" holds
// be64(Unix ms), the latest time of a nonce check or purge, or of a record
// before the clock went back (LatestTime); absent in a store written
// before it, which then starts from its head record's time.
var (
	bucketQRExpiry = []byte("qrexpiry")
	keyNonceCount  = []byte("qrcount")
	keyLatest      = []byte("latest")
)

// SeenNonce reports whether nonce was seen before and, if not, remembers it
// until expires, in one check-and-set commit: of two callers racing with the
// same nonce exactly one gets false. The caller passes the token's expiry
// plus the clock skew it allows. A nonce stays remembered until PurgeNonces
// passes its expiry. The commit is durable (group commit), so a replay
// after a power cut is still refused.
//
// Nonces are forgotten by the latest time the store has seen, not by the
// clock alone (a clock set ahead, purged by, then corrected would
// otherwise let a forgotten nonce be taken as new): an expiry at or before
// that time (LatestTime, raised to the store's clock first) is refused
// with ErrNonceExpired, so that a purged nonce is never accepted again. A
// nonce of the wrong size or an expiry more than MaxNonceLifetime ahead of
// the store's clock is refused with ErrInvalid; a full cache, after
// expired nonces were dropped, with ErrNonceCacheFull.
func (s *Store) SeenNonce(nonce []byte, expires time.Time) (bool, error) {
	now := s.opts.Clock.Now()
	exp := expires.UnixMilli()
	switch {
	case len(nonce) < MinNonceSize || len(nonce) > MaxNonceSize:
		return false, fmt.Errorf("offline: QR nonce of %d bytes: %w", len(nonce), ErrInvalid)
	case exp < 0 || expires.After(now.Add(MaxNonceLifetime)):
		return false, fmt.Errorf("offline: QR nonce expiry %s, now %s: %w", expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrInvalid)
	}
	nonce = bytes.Clone(nonce)
	val := be64(uint64(exp))
	idx := encodeExpiryKey(exp, nonce)
	var seen bool
	err := s.batch("QR nonce", func(tx *bolt.Tx) error {
		seen = false
		latest, err := s.raiseLatest(tx, now.UnixMilli())
		if err != nil {
			return err
		}
		if exp <= latest {
			return fmt.Errorf("offline: QR nonce expiry %s, latest time seen %s (now %s): %w",
				expires.UTC().Format(time.RFC3339), time.UnixMilli(latest).UTC().Format(time.RFC3339),
				now.UTC().Format(time.RFC3339), ErrNonceExpired)
		}
		b := tx.Bucket(bucketQRNonce)
		if v := b.Get(nonce); v != nil {
			if _, err := decodeNonceValue(v); err != nil {
				return err
			}
			seen = true
			return nil
		}
		n, err := readNonceCount(tx)
		if err != nil {
			return err
		}
		if n >= nonceCap {
			purged, err := purgeNoncesTx(tx, latest, int(n))
			if err != nil {
				return err
			}
			n -= uint64(purged)
			if n >= nonceCap {
				return fmt.Errorf("offline: QR nonce: %d unexpired: %w", n, ErrNonceCacheFull)
			}
		}
		if err := b.Put(nonce, val); err != nil {
			return fmt.Errorf("offline: QR nonce: %w", err)
		}
		if err := tx.Bucket(bucketQRExpiry).Put(idx, nil); err != nil {
			return fmt.Errorf("offline: QR nonce: %w", err)
		}
		return writeNonceCount(tx, n+1)
	})
	return seen, err
}

// PurgeNonces forgets nonces whose expiry is at or before the latest time
// the store has seen (LatestTime, first raised to now), at most 10,000 per
// call (one commit), and returns how many it forgot. SeenNonce refuses
// every expiry at or before that time, so what is forgotten stays refused.
func (s *Store) PurgeNonces(now time.Time) (int, error) {
	var n int
	err := s.update("purge QR nonces", func(tx *bolt.Tx) error {
		latest, err := s.raiseLatest(tx, now.UnixMilli())
		if err != nil {
			return err
		}
		n, err = purgeNoncesTx(tx, latest, purgeNoncesBatch)
		return err
	})
	return n, err
}

// LatestTime returns the latest wall-clock time the store has seen: of a
// QR nonce check or purge, or of a journal record. It never goes back
// when the clock does, and SeenNonce refuses tokens that expire before it.
// Zero for a store that has seen none.
func (s *Store) LatestTime() (time.Time, error) {
	var ms int64
	err := s.view("latest time", func(tx *bolt.Tx) error {
		var err error
		ms, err = s.readLatest(tx)
		return err
	})
	if err != nil || ms == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

// readLatest returns the latest time seen, Unix ms: the stored value or
// the head record's time, whichever is later (put stores the head's time
// before a record older than it replaces the head).
func (s *Store) readLatest(tx *bolt.Tx) (int64, error) {
	var stored int64
	if v := tx.Bucket(bucketMeta).Get(keyLatest); v != nil {
		var err error
		if stored, err = decodeLatest(v); err != nil {
			return 0, err
		}
	}
	h, err := s.readHead(tx)
	if err != nil {
		return 0, err
	}
	return max(stored, h.time), nil
}

// raiseLatest makes t (Unix ms) a time the store has seen and returns the
// latest, t or a later one.
func (s *Store) raiseLatest(tx *bolt.Tx, t int64) (int64, error) {
	latest, err := s.readLatest(tx)
	if err != nil || t <= latest {
		return latest, err
	}
	return t, writeLatest(tx, t)
}

// keepHeadTime stores the head's time t as the latest seen before a record
// older than it replaces the head (the clock went back), so that
// readLatest still finds it.
func keepHeadTime(tx *bolt.Tx, t int64) error {
	if v := tx.Bucket(bucketMeta).Get(keyLatest); v != nil {
		stored, err := decodeLatest(v)
		if err != nil || stored >= t {
			return err
		}
	}
	return writeLatest(tx, t)
}

func writeLatest(tx *bolt.Tx, t int64) error {
	if err := tx.Bucket(bucketMeta).Put(keyLatest, be64(uint64(t))); err != nil {
		return fmt.Errorf("offline: latest time: %w", err)
	}
	return nil
}

// decodeLatest decodes the meta "latest" value: Unix ms, 8 bytes
// big-endian, not negative.
func decodeLatest(v []byte) (int64, error) {
	if len(v) != 8 || v[0]&0x80 != 0 {
		return 0, fmt.Errorf("offline: latest time %x: %w", v, ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Nonces returns how many nonces the cache holds.
func (s *Store) Nonces() (uint64, error) {
	var n uint64
	err := s.view("QR nonces", func(tx *bolt.Tx) error {
		var err error
		n, err = readNonceCount(tx)
		return err
	})
	return n, err
}

func purgeNoncesTx(tx *bolt.Tx, nowMs int64, limit int) (int, error) {
	idx, nb := tx.Bucket(bucketQRExpiry), tx.Bucket(bucketQRNonce)
	c := idx.Cursor()
	n := 0
	for k, _ := c.First(); k != nil && n < limit; k, _ = c.First() {
		exp, nonce, err := decodeExpiryKey(k)
		if err != nil {
			return n, err
		}
		if exp > nowMs {
			break
		}
		if err := nb.Delete(nonce); err != nil {
			return n, fmt.Errorf("offline: purge QR nonces: %w", err)
		}
		if err := c.Delete(); err != nil {
			return n, fmt.Errorf("offline: purge QR nonces: %w", err)
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	cnt, err := readNonceCount(tx)
	if err != nil {
		return n, err
	}
	if uint64(n) > cnt {
		return n, fmt.Errorf("offline: QR nonce count %d, purged %d: %w", cnt, n, ErrCorrupt)
	}
	return n, writeNonceCount(tx, cnt-uint64(n))
}

func readNonceCount(tx *bolt.Tx) (uint64, error) {
	v := tx.Bucket(bucketMeta).Get(keyNonceCount)
	if v == nil {
		return 0, nil
	}
	n, err := decodeUint64(v)
	if err != nil {
		return 0, fmt.Errorf("offline: QR nonce count: %w", err)
	}
	return n, nil
}

func writeNonceCount(tx *bolt.Tx, n uint64) error {
	if err := tx.Bucket(bucketMeta).Put(keyNonceCount, be64(n)); err != nil {
		return fmt.Errorf("offline: QR nonce count: %w", err)
	}
	return nil
}

// decodeNonceValue decodes a qrnonce value: the expiry, Unix ms, 8 bytes
// big-endian, not negative.
func decodeNonceValue(v []byte) (int64, error) {
	if len(v) != 8 || v[0]&0x80 != 0 {
		return 0, fmt.Errorf("offline: QR nonce value %x: %w", v, ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// encodeExpiryKey is the qrexpiry key of a nonce: be64(expiry ms) ‖ nonce.
func encodeExpiryKey(exp int64, nonce []byte) []byte {
	return append(be64(uint64(exp)), nonce...)
}

// decodeExpiryKey splits a qrexpiry key; the nonce aliases k.
func decodeExpiryKey(k []byte) (int64, []byte, error) {
	if len(k) < 8+MinNonceSize || len(k) > 8+MaxNonceSize || k[0]&0x80 != 0 {
		return 0, nil, fmt.Errorf("offline: QR nonce expiry key of %d bytes: %w", len(k), ErrCorrupt)
	}
	return int64(binary.BigEndian.Uint64(k)), k[8:], nil
}
