package config

import (
	"fmt"
	"time"
)

// Kiosk configures a 圈存 kiosk: the card in its reader claims the money
// waiting at the ledger (DESIGN.md 3.3). Amounts are in fen.
type Kiosk struct {
	// MaxBalanceFen is the card purse's limit (maximum balance): a claim
	// that would take the card above it is refused before the ledger is
	// asked, or narrowed to the loads that fit. Default 100000 (1000
	// yuan, the campus cards' usual limit); the card's own limit still
	// applies (it refuses INITIALIZE FOR LOAD above it).
	MaxBalanceFen int64 `toml:"max_balance_fen"`
	// KeyIndex is the load key (DLK) index sent in INITIALIZE FOR LOAD.
	KeyIndex int `toml:"key_index"`
	// LedgerTimeout bounds each request to the ledger while the card
	// waits in the reader (pending, authorisation, confirmation).
	LedgerTimeout Duration `toml:"ledger_timeout"`
	// AutoClaim, when true (the default), claims all the money waiting for
	// a card as soon as it is placed (自动圈存); when false the card opens a
	// session and the holder chooses on the kiosk's page (the control
	// interface's /v1/kiosk API).
	AutoClaim *bool `toml:"auto_claim"`
	// SessionTimeout ends a session with no step for that long: the kiosk
	// returns to its start screen and nothing is left half done (default
	// 60s).
	SessionTimeout Duration `toml:"session_timeout"`
}

// Auto reports whether the kiosk claims on a card's arrival.
func (k *Kiosk) Auto() bool { return k.AutoClaim == nil || *k.AutoClaim }

// Kiosk defaults.
const (
	DefaultKioskMaxBalanceFen  = 100000
	DefaultKioskLedgerTimeout  = 3 * time.Second
	DefaultKioskSessionTimeout = 60 * time.Second
)

// Defaults fills the zero fields with the defaults.
func (k *Kiosk) Defaults() {
	if k.MaxBalanceFen == 0 {
		k.MaxBalanceFen = DefaultKioskMaxBalanceFen
	}
	if k.KeyIndex == 0 {
		k.KeyIndex = 1
	}
	if k.LedgerTimeout == 0 {
		k.LedgerTimeout = Duration(DefaultKioskLedgerTimeout)
	}
	if k.SessionTimeout == 0 {
		k.SessionTimeout = Duration(DefaultKioskSessionTimeout)
	}
}

// Validate checks the ranges (after Defaults).
func (k *Kiosk) Validate() error {
	switch {
	case k.MaxBalanceFen <= 0 || k.MaxBalanceFen > 0xFFFFFFFF:
		return fmt.Errorf("%w: kiosk.max_balance_fen %d: want 1 to 4294967295", ErrInvalid, k.MaxBalanceFen)
	case k.KeyIndex < 1 || k.KeyIndex > 255:
		return fmt.Errorf("%w: kiosk.key_index %d: want 1 to 255", ErrInvalid, k.KeyIndex)
	case k.LedgerTimeout < 0:
		return fmt.Errorf("%w: kiosk.ledger_timeout %s: want a positive duration", ErrInvalid, time.Duration(k.LedgerTimeout))
	case k.SessionTimeout < 5*Duration(time.Second):
		return fmt.Errorf("%w: kiosk.session_timeout %s: want at least 5s", ErrInvalid, time.Duration(k.SessionTimeout))
	}
	return nil
}
