package config

import "time"

// POS modes.
const (
	ModeKeyed   = "keyed"   // the cashier keys the amount of each sale
	ModeFixed   = "fixed"   // every tap pays PriceFen
	ModePerUse  = "per_use" // hot water: every use pays PriceFen, balance must exceed MinBalanceFen
	ModeMetered = "metered" // shower: pre-authorised against the balance, debited at the end for the minutes used
)

// POS configures a point of sale: canteen window, shower or hot-water meter.
// Amounts are in fen. Prices and limits that the ledger sends in signed rules
// replace these local defaults.
type POS struct {
	Mode string `toml:"mode"`
	// PriceFen is the price of a fixed-price or per-use sale.
	PriceFen int64 `toml:"price_fen"`
	// PerMinuteFen is the metered (shower) price per started minute.
	PerMinuteFen int64 `toml:"per_minute_fen"`
	// PreauthFen is what a metered session reserves against the balance.
	PreauthFen int64 `toml:"preauth_fen"`
	// MinBalanceFen: shower and hot water accept a card only with a balance
	// above it (campus rule: > 5 yuan, so 500).
	MinBalanceFen int64 `toml:"min_balance_fen"`
	// PINLimitFen: a sale above it asks for the PIN (default 5000, 50 yuan),
	// unless the card carries its own limit.
	PINLimitFen int64 `toml:"pin_limit_fen"`
	// DailyLimitFen caps a card's total on this terminal per day; 0 = none.
	DailyLimitFen int64 `toml:"daily_limit_fen"`
	// RepeatGuard refuses the same card again within this time (no double charge).
	RepeatGuard Duration `toml:"repeat_guard"`
	// CancelWindow is how long after a sale the cashier may cancel it.
	CancelWindow Duration `toml:"cancel_window"`
	// KeyIndex is the purchase key index sent in INITIALIZE FOR PURCHASE.
	KeyIndex int `toml:"key_index"`
	// MaxSaleFen refuses keyed amounts above it (a slip of the cashier's finger).
	MaxSaleFen int64 `toml:"max_sale_fen"`
	// PriceCode names the price in the ledger's signed rules that replaces
	// PriceFen (fixed and per-use modes); "" keeps PriceFen.
	PriceCode string `toml:"price_code"`
	// RetryWindow: a torn sale that recovery finds completed when the card
	// is tapped again within it, for the same amount, counts as the sale
	// then asked for (the customer is not charged twice).
	RetryWindow Duration `toml:"retry_window"`
	// MaxSession ends a metered (shower) session that was not stopped by a
	// second tap; its charge is capped at this time.
	MaxSession Duration `toml:"max_session"`
	// PINTimeout is how long the keypad waits for a PIN.
	PINTimeout Duration `toml:"pin_timeout"`
	// CashierPINHash is the salted hash of the cashier's PIN (`yktd
	// cashier-pin` prints it); the cashier's cancel of the last sale needs
	// the PIN. Zero: no cashier is configured and cancel-last is refused.
	CashierPINHash PINHash `toml:"cashier_pin_hash"`
	// ClaimLoads: when a card taps and the POS has a ledger link, the
	// POS first claims (领取) the money the card's account holds for
	// loading, with the system PIN, then sells from the new balance.
	// Unset means true; false sells only. Without a ledger link the POS
	// never claims.
	ClaimLoads *bool `toml:"claim_loads"`
	// ClaimTimeout is the hard limit on each request to the ledger of a
	// claim at the POS (asking what the card may claim, and then the
	// authorisation and the confirmation of the load): a slow or
	// unreachable ledger means the POS just sells. Default 300ms.
	ClaimTimeout Duration `toml:"claim_timeout"`
}

// DefaultClaimTimeout is pos.claim_timeout when the configuration leaves
// it zero.
const DefaultClaimTimeout = 300 * time.Millisecond

// Claims reports whether the POS claims before the sale (ClaimLoads,
// default true).
func (p *POS) Claims() bool { return p.ClaimLoads == nil || *p.ClaimLoads }

func (p *POS) defaults() {
	if p.PINLimitFen == 0 {
		p.PINLimitFen = 5000
	}
	if p.RepeatGuard == 0 {
		p.RepeatGuard = Duration(3 * time.Second)
	}
	if p.CancelWindow == 0 {
		p.CancelWindow = Duration(2 * time.Minute)
	}
	if p.KeyIndex == 0 {
		p.KeyIndex = 1
	}
	if p.MaxSaleFen == 0 {
		p.MaxSaleFen = 100000
	}
	if p.RetryWindow == 0 {
		p.RetryWindow = Duration(2 * time.Minute)
	}
	if p.MaxSession == 0 {
		p.MaxSession = Duration(30 * time.Minute)
	}
	if p.PINTimeout == 0 {
		p.PINTimeout = Duration(30 * time.Second)
	}
	if p.ClaimTimeout == 0 {
		p.ClaimTimeout = Duration(DefaultClaimTimeout)
	}
	if (p.Mode == ModePerUse || p.Mode == ModeMetered) && p.MinBalanceFen == 0 {
		p.MinBalanceFen = 500
	}
}

func (p *POS) validate(kind string) error {
	if kind != KindPOS {
		return nil
	}
	switch p.Mode {
	case ModeKeyed:
	case ModeFixed, ModePerUse:
		if p.PriceFen <= 0 {
			return invalid("pos.price_fen must be > 0 in mode %s", p.Mode)
		}
	case ModeMetered:
		if p.PerMinuteFen <= 0 || p.PreauthFen <= 0 {
			return invalid("pos.per_minute_fen and pos.preauth_fen must be > 0 in mode metered")
		}
	default:
		return invalid("pos.mode %q: want keyed, fixed, per_use or metered", p.Mode)
	}
	if p.PINLimitFen < 0 || p.DailyLimitFen < 0 || p.MinBalanceFen < 0 || p.MaxSaleFen < 0 {
		return invalid("pos: amounts must not be negative")
	}
	if p.KeyIndex < 1 || p.KeyIndex > 255 {
		return invalid("pos.key_index %d: want 1..255", p.KeyIndex)
	}
	if p.ClaimTimeout < 0 || p.ClaimTimeout.D() > 10*time.Second {
		return invalid("pos.claim_timeout %s: want a duration up to 10s (a claim must not hold the queue)", p.ClaimTimeout.D())
	}
	return nil
}
