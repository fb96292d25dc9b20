package protocol

// Rules is what campus operations set centrally and the ledger sends to a
// terminal, signed with the ledger key: prices and limits, card-class
// pricing, meal periods, the credential matrix, access groups, time profiles,
// holidays and the campus QR issuer keys. A terminal applies a Rules only
// when its signature verifies and its Version is newer than the one held.
//
// Times of day are minutes after local midnight (0..1440) in the terminal's
// configured time zone; dates are "YYYY-MM-DD". Amounts are in fen.
type Rules struct {
	Version uint64 `cbor:"1,keyasint" json:"version"`
	// Issued is when the ledger made this version, Unix milliseconds.
	Issued int64 `cbor:"2,keyasint" json:"issued"`

	// PINLimitFen: a sale above it needs the PIN unless the card carries its
	// own limit; 0 keeps the device's configured default.
	PINLimitFen int64 `cbor:"3,keyasint,omitempty" json:"pin_limit_fen,omitempty"`
	// DailyLimitFen caps one card's spending per day on a terminal; 0 = none.
	DailyLimitFen int64 `cbor:"4,keyasint,omitempty" json:"daily_limit_fen,omitempty"`
	// MinBalanceFen: shower and hot-water modes need a balance above it; 0
	// keeps the device default (500).
	MinBalanceFen int64 `cbor:"5,keyasint,omitempty" json:"min_balance_fen,omitempty"`
	// Prices by device price code (e.g. "canteen-1-set-meal", "shower-per-minute").
	Prices map[string]int64 `cbor:"6,keyasint,omitempty" json:"prices,omitempty"`
	// Classes: pricing per card class (student, staff, visitor...).
	Classes []ClassPricing `cbor:"7,keyasint,omitempty" json:"classes,omitempty"`
	// Meals: canteen meal periods with per-period use limits.
	Meals []MealPeriod `cbor:"8,keyasint,omitempty" json:"meals,omitempty"`
	// Credentials: the credential kinds each door accepts ("card", "qr",
	// "phone", "recogniser", "visitor"); a door missing here accepts what
	// its device configuration says.
	Credentials map[string][]string `cbor:"9,keyasint,omitempty" json:"credentials,omitempty"`
	// Groups: access groups (who may pass which doors, when).
	Groups []AccessGroup `cbor:"10,keyasint,omitempty" json:"groups,omitempty"`
	// Profiles: named time profiles the groups refer to.
	Profiles []TimeProfile `cbor:"11,keyasint,omitempty" json:"profiles,omitempty"`
	// Holidays override the time profiles on their dates.
	Holidays []Holiday `cbor:"12,keyasint,omitempty" json:"holidays,omitempty"`
	// Doors: per-door settings (second factor, anti-passback).
	Doors []Door `cbor:"13,keyasint,omitempty" json:"doors,omitempty"`
	// QRIssuers are the public keys that sign campus QR tokens.
	QRIssuers []IssuerKey `cbor:"14,keyasint,omitempty" json:"qr_issuers,omitempty"`
}

// ClassPricing adjusts a price for one card class: the price is multiplied
// by Percent/100 (100 = list price, 90 = 10 % discount, 0 means 100) and
// SurchargeFen is added (搭伙费, the meal surcharge some card classes pay).
type ClassPricing struct {
	Class        uint8  `cbor:"1,keyasint" json:"class"`
	Name         string `cbor:"2,keyasint,omitempty" json:"name,omitempty"`
	Percent      uint16 `cbor:"3,keyasint,omitempty" json:"percent,omitempty"`
	SurchargeFen int64  `cbor:"4,keyasint,omitempty" json:"surcharge_fen,omitempty"`
}

// MealPeriod is a canteen meal: between Start and End (minutes after
// midnight) a card may pay at most MaxUses times (0 = no limit).
type MealPeriod struct {
	Name    string `cbor:"1,keyasint" json:"name"`
	Start   uint16 `cbor:"2,keyasint" json:"start"`
	End     uint16 `cbor:"3,keyasint" json:"end"`
	MaxUses uint16 `cbor:"4,keyasint,omitempty" json:"max_uses,omitempty"`
}

// AccessGroup lets members pass Doors during Profile. Members are card
// classes and, for exceptions, explicit card numbers.
type AccessGroup struct {
	ID      string   `cbor:"1,keyasint" json:"id"`
	Doors   []string `cbor:"2,keyasint" json:"doors"`
	Profile string   `cbor:"3,keyasint" json:"profile"`
	Classes []uint8  `cbor:"4,keyasint,omitempty" json:"classes,omitempty"`
	Cards   []string `cbor:"5,keyasint,omitempty" json:"cards,omitempty"`
}

// TimeProfile is a set of weekly windows.
type TimeProfile struct {
	ID      string       `cbor:"1,keyasint" json:"id"`
	Windows []TimeWindow `cbor:"2,keyasint" json:"windows"`
}

// TimeWindow is open on the weekdays in Days (bit 0 = Sunday ... bit 6 =
// Saturday, as time.Weekday) from Start to End, minutes after midnight.
type TimeWindow struct {
	Days  uint8  `cbor:"1,keyasint" json:"days"`
	Start uint16 `cbor:"2,keyasint" json:"start"`
	End   uint16 `cbor:"3,keyasint" json:"end"`
}

// Holiday replaces every profile on Date with the profile named Profile; an
// empty Profile means closed all day.
type Holiday struct {
	Date    string `cbor:"1,keyasint" json:"date"`
	Name    string `cbor:"2,keyasint,omitempty" json:"name,omitempty"`
	Profile string `cbor:"3,keyasint,omitempty" json:"profile,omitempty"`
}

// Door holds per-door settings.
type Door struct {
	ID string `cbor:"1,keyasint" json:"id"`
	// SecondFactor asks for the card PIN after the credential.
	SecondFactor bool `cbor:"2,keyasint,omitempty" json:"second_factor,omitempty"`
	// AntiPassbackSec refuses a second pass in the same direction within
	// this many seconds; 0 disables it.
	AntiPassbackSec uint32 `cbor:"3,keyasint,omitempty" json:"anti_passback_sec,omitempty"`
}

// IssuerKey is a public key that signs campus QR tokens.
type IssuerKey struct {
	KeyID string `cbor:"1,keyasint" json:"kid"`
	// Alg is the COSE algorithm number (-8 EdDSA/Ed25519).
	Alg int64 `cbor:"2,keyasint" json:"alg"`
	// Key is the raw public key (32 bytes for Ed25519).
	Key []byte `cbor:"3,keyasint" json:"key"`
	// NotAfter ends the key's validity, Unix seconds; 0 = no end.
	NotAfter int64 `cbor:"4,keyasint,omitempty" json:"not_after,omitempty"`
}

// QRClaims is the payload of a campus QR token (DESIGN.md 4): a COSE_Sign1
// over the canonical CBOR of QRClaims, signed by an IssuerKey, carried in the
// QR code as base45 or base64url. The gate checks the signature, the expiry
// window with its configured clock skew and that Nonce was not seen before.
type QRClaims struct {
	// Subject is the holder's card number.
	Subject string `cbor:"1,keyasint" json:"sub"`
	// IssuedAt and Expires are Unix seconds; a token lives about a minute.
	IssuedAt int64 `cbor:"2,keyasint" json:"iat"`
	Expires  int64 `cbor:"3,keyasint" json:"exp"`
	// Nonce makes every token unique (8..32 bytes).
	Nonce []byte `cbor:"4,keyasint" json:"nonce"`
	// Class is the holder's card class, for access groups and pricing.
	Class uint8 `cbor:"5,keyasint,omitempty" json:"class,omitempty"`
}
