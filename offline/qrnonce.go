package offline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNonceCacheFull: the QR nonce cache holds MaxNonces unexpired nonces;
// the token is refused (a replay cannot be ruled out) until some expire.
var ErrNonceCacheFull = errors.New("QR nonce cache full")

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
// purging; meta "qrcount" holds how many there are.
var (
	bucketQRExpiry = []byte("qrexpiry")
	keyNonceCount  = []byte("qrcount")
)

// SeenNonce reports whether nonce was seen before and, if not, remembers it
// until expires, in one check-and-set commit: of two callers racing with the
// same nonce exactly one gets false. A nonce stays remembered until
// PurgeNonces passes its expiry (a token presented after its expiry is
// refused by the QR verifier, not here). The commit is durable (group
// commit), so a replay after a power cut is still refused. A nonce of the
// wrong size or an expiry more than MaxNonceLifetime ahead of the store's
// clock is refused with ErrInvalid; a full cache, after expired nonces
// were dropped, with ErrNonceCacheFull.
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
			purged, err := purgeNoncesTx(tx, now.UnixMilli(), int(n))
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

// PurgeNonces forgets nonces whose expiry is at or before now, at most
// 10,000 per call (one commit), and returns how many it forgot.
func (s *Store) PurgeNonces(now time.Time) (int, error) {
	var n int
	err := s.update("purge QR nonces", func(tx *bolt.Tx) error {
		var err error
		n, err = purgeNoncesTx(tx, now.UnixMilli(), purgeNoncesBatch)
		return err
	})
	return n, err
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
