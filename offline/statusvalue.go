package offline

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/openykt/yktd/protocol"
)

// Reason is why a card is on the status list.
type Reason uint8

// Reasons a card is refused. The numbers are stored and digested: never renumber.
const (
	ReasonLost      Reason = 1 // reported lost (挂失)
	ReasonFrozen    Reason = 2 // frozen (e.g. overdrawn through a fault)
	ReasonDormant   Reason = 3 // unused in canteens for a year
	ReasonCancelled Reason = 4 // replaced by a reissued card
	ReasonExpired   Reason = 5 // past its validity
	numReasons             = 6 // index 0 unused
)

var reasonNames = [numReasons]string{"", "lost", "frozen", "dormant", "cancelled", "expired"}

// String names the reason.
func (r Reason) String() string {
	if r.Valid() {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Valid reports whether r is a known reason.
func (r Reason) Valid() bool { return r >= ReasonLost && r < numReasons }

// ParseReason is the inverse of Reason.String.
func ParseReason(s string) (Reason, error) {
	for i, n := range reasonNames {
		if i > 0 && n == s {
			return Reason(i), nil
		}
	}
	return 0, fmt.Errorf("offline: unknown status reason %q: %w", s, ErrInvalid)
}

// maxCardNo bounds a card number (the key of the status bucket).
const maxCardNo = 32

func validCardNo(c string) bool {
	if len(c) == 0 || len(c) > maxCardNo {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; b < '!' || b > '~' {
			return false
		}
	}
	return true
}

// A status value of schema 3 and before (one key per card, read only by
// migration 4) is compact binary: reason(1) ‖ uvarint(since, Unix seconds) ‖
// uvarint(version), each varint minimal, nothing after.
func encodeStatusValue(dst []byte, r Reason, since int64, version uint64) []byte {
	dst = append(dst, byte(r))
	dst = binary.AppendUvarint(dst, uint64(since))
	return binary.AppendUvarint(dst, version)
}

// decodeStatusValue decodes a stored status value strictly.
func decodeStatusValue(v []byte) (r Reason, since int64, version uint64, err error) {
	if len(v) < 3 {
		return 0, 0, 0, fmt.Errorf("offline: status value of %d bytes: %w", len(v), ErrCorrupt)
	}
	r = Reason(v[0])
	if !r.Valid() {
		return 0, 0, 0, fmt.Errorf("offline: status value reason %d: %w", v[0], ErrCorrupt)
	}
	s, n := uvarintMinimal(v[1:])
	if n <= 0 || s > math.MaxInt64 {
		return 0, 0, 0, fmt.Errorf("offline: status value since: %w", ErrCorrupt)
	}
	ver, m := uvarintMinimal(v[1+n:])
	if m <= 0 || 1+n+m != len(v) {
		return 0, 0, 0, fmt.Errorf("offline: status value version: %w", ErrCorrupt)
	}
	return r, int64(s), ver, nil
}

// uvarintMinimal is binary.Uvarint refusing non-minimal encodings (n <= 0
// for anything bad), so that one value has one encoding.
func uvarintMinimal(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n <= 0 || (n > 1 && b[n-1] == 0) {
		return 0, -1
	}
	return v, n
}

func emptyStatusDigest() [sha256.Size]byte { return protocol.NewStatusListDigester().Sum() }

// sinceUnix stores times at second resolution; the zero time is 0.
func sinceUnix(t time.Time) int64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return t.Unix()
}
