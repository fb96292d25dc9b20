package offline

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzDecodePSAMHold: the PSAM hold value of a damaged file is refused
// with ErrCorrupt or re-encodes to the same bytes.
func FuzzDecodePSAMHold(f *testing.F) {
	f.Add(encodePSAMHold(PSAMState{LedgerHeld: true, LedgerHeldAt: time.UnixMilli(1_725_177_600_000), HeldSeq: 7}))
	f.Add(encodePSAMHold(PSAMState{Swapped: []byte{0, 0, 0, 0, 0xb, 2}, SwappedAt: time.UnixMilli(1_725_177_600_000)}))
	f.Add(make([]byte, psamHoldSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		st, err := decodePSAMHold(PSAMState{}, v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		if again := encodePSAMHold(st); !bytes.Equal(again, v) {
			t.Fatalf("%x re-encodes to %x", v, again)
		}
	})
}
