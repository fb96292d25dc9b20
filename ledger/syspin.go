package ledger

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/reader/epurse"
)

// IssuerPINs derives cards' system PINs (epurse's two-PIN model) from the
// issuer master keys by key version, with the derivation of the SAMs
// (epurse.DeriveSystemPIN under the key set's system_pin master key). It
// implements epurse.SystemPINSource, in process: it is what the ledger's
// key service will answer a kiosk without a PSAM (issue 14), and that
// answer must then name its authority (an enrolled kiosk, over the signed
// channel); nothing serves it yet.
type IssuerPINs map[byte]epurse.Keys

var _ epurse.SystemPINSource = IssuerPINs(nil)

// SystemPIN returns the card's system PIN (BCD). A key version the ledger
// does not hold, or one without a system_pin key (an error wrapping
// epurse.ErrNoSystemPIN), is an ErrInvalid request.
func (k IssuerPINs) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ledger: system pin: %w", err)
	}
	mk, ok := k[req.KeyVersion]
	if !ok {
		return nil, fmt.Errorf("ledger: system pin: no issuer keys of version %d: %w", req.KeyVersion, ErrInvalid)
	}
	if mk.SystemPIN == nil {
		return nil, fmt.Errorf("ledger: system pin: key version %d: %w: %w", req.KeyVersion, epurse.ErrNoSystemPIN, ErrInvalid)
	}
	pin, err := epurse.DeriveSystemPIN(req.Algorithm, mk.SystemPIN, req.CardSerial)
	if err != nil {
		return nil, fmt.Errorf("ledger: system pin: %w: %w", err, ErrInvalid)
	}
	return pin, nil
}
