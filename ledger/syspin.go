package ledger

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/reader/epurse"
)

// IssuerPINs derives cards' system PINs (epurse's two-PIN model) from the
// issuer master keys by key version, with the derivation of the SAMs
// (epurse.DeriveSystemPIN under the key set's system_pin master key),
// through the software key service (keys.Software). It implements
// epurse.SystemPINSource, in process; Ledger.SystemPIN is the same over the
// ledger's own key service.
type IssuerPINs map[byte]epurse.Keys

var _ epurse.SystemPINSource = IssuerPINs(nil)

// SystemPIN returns the card's system PIN (BCD), derived by the software
// key service (keys.Software). A key version the ledger does not hold, or
// one without a system_pin key (an error wrapping epurse.ErrNoSystemPIN),
// is an ErrInvalid request.
func (k IssuerPINs) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	pin, err := keys.NewSoftware(k).SystemPIN(ctx, req)
	switch {
	case err == nil:
		return pin, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("ledger: system pin: %w", err)
	}
	return nil, fmt.Errorf("ledger: system pin: %w: %w", err, ErrInvalid)
}

// SystemPIN derives a card's system PIN through the ledger's key service
// (the kiosk without a PSAM asks it; see docs/protocol.md). Errors as
// IssuerPINs.SystemPIN.
func (l *Ledger) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	pin, err := l.keys.SystemPIN(ctx, req)
	switch {
	case err == nil:
		return pin, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("ledger: system pin: %w", err)
	}
	return nil, fmt.Errorf("ledger: system pin: %w: %w", err, ErrInvalid)
}
