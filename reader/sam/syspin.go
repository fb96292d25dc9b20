package sam

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/reader/epurse"
)

// The system PIN (epurse's two-PIN model) is derived by the SAM from the
// card's application serial under the system-PIN master key of the card's
// key version. A PSAM does it with two general-purpose commands of PSAM
// practice (JR/T 0025 PSAMs and the card-domain notes: "80 1A" key
// diversification, "80 FA" DES computation):
//
//	DIVERSIFY KEY  80 1A 3A <key version> Lc X    → 9000
//	    derives DSPK from the system-PIN master key (key usage 3A) and the
//	    factor into the PSAM's temporary key; X is the factor (8 bytes,
//	    3DES: left = 3DES(MK, factor), right = 3DES(MK, ^factor)) or
//	    factor ‖ ^factor (16 bytes, SM4: one block);
//	    6A88 when the PSAM holds no such key, 6700 for another Lc.
//	ENCRYPT        80 FA 00 00 Lc X Le  → Enc(DSPK, X) (ECB) ‖ 9000
//	    6985 without a preceding DIVERSIFY KEY.
//
// The terminal decimalises the first 8 bytes of the answer
// (epurse.SystemPINFromCipher). The temporary key is the PSAM's only one:
// DIVERSIFY KEY ends an open purchase session (INIT SAM FOR PURCHASE must
// be sent again), and a reset or SELECT forgets the temporary key.
// Key usage 3A is this project's assignment (after the FMCOS key type of
// a PIN key); check it against the PSAM's issuance script.
const (
	InsDiversifyKey   byte = 0x1A // DIVERSIFY KEY: 80 1A <usage> <version> Lc factor
	InsEncrypt        byte = 0xFA // ENCRYPT (DES/SM4 computation): 80 FA 00 00 Lc data
	KeyUsageSystemPIN byte = 0x3A // P1 of DIVERSIFY KEY: the system-PIN master key
	EncryptP1ECB      byte = 0x00 // P1 of ENCRYPT: encrypt with the temporary key, ECB
)

// ErrNoSystemPINKey: the key file (or the PSAM) has no system-PIN master
// key for the card's key version: it serves purchases, not loads. It wraps
// epurse.ErrNoSystemPIN.
var ErrNoSystemPINKey = fmt.Errorf("sam: no system_pin master key for this key version (purchases work; loads need it: add \"system_pin\" to the key set): %w", epurse.ErrNoSystemPIN)

// SystemPIN derives the card's system PIN from the key set of the card's
// key version (epurse.DeriveSystemPIN). It implements
// epurse.SystemPINSource. A key set without "system_pin" returns
// ErrNoSystemPINKey; an unknown key version ErrUnknownKeyVersion.
func (s *Software) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sam: system pin: %w", err)
	}
	s.mu.Lock()
	mk, ok := s.keys[req.KeyVersion]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownKeyVersion, req.KeyVersion)
	}
	if mk.SystemPIN == nil {
		return nil, fmt.Errorf("key version %d: %w", req.KeyVersion, ErrNoSystemPINKey)
	}
	pin, err := epurse.DeriveSystemPIN(req.Algorithm, mk.SystemPIN, req.CardSerial)
	if err != nil {
		return nil, fmt.Errorf("sam: %w", err)
	}
	return pin, nil
}

var _ epurse.SystemPINSource = (*Software)(nil)
