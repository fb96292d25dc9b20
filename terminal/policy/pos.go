package policy

import (
	"math"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

// POS modes (the values of terminal/config's pos.mode).
const (
	ModeKeyed   = "keyed"   // the cashier keys each amount
	ModeFixed   = "fixed"   // every tap pays the price
	ModePerUse  = "per_use" // hot water: every use pays the price; minimum balance applies
	ModeMetered = "metered" // shower: the flow authorises an amount; minimum balance applies
)

// Defaults of the campus card guides (DESIGN.md 1).
const (
	DefaultPINLimitFen   = 5000 // 50 yuan: a sale above it needs the PIN
	DefaultMinBalanceFen = 500  // shower and hot water need a balance above 5 yuan
)

// MaxAmountFen is the largest amount a sale may charge: the e-purse amount
// field is 32 bits.
const MaxAmountFen = math.MaxUint32

// POS is the device's local configuration of a point of sale, built by the
// caller from terminal/config's POS section (amounts in fen). Values the
// signed rules carry (PIN limit, daily limit, minimum balance, prices)
// replace these when set there.
type POS struct {
	Mode string
	// PriceFen is the price of a fixed or per-use sale; PriceCode, if set,
	// names the rules' price that replaces it.
	PriceFen  int64
	PriceCode string
	// MinBalanceFen: per-use and metered modes need a balance above it;
	// 0 = DefaultMinBalanceFen.
	MinBalanceFen int64
	// PINLimitFen: a sale above it needs the PIN; 0 = DefaultPINLimitFen.
	PINLimitFen int64
	// DailyLimitFen caps one card's total per day on this terminal; 0 = none.
	DailyLimitFen int64
	// RepeatGuard refuses the same card again this soon after its last
	// sale; 0 = off.
	RepeatGuard time.Duration
	// MaxSaleFen refuses keyed amounts above it; 0 = no device maximum.
	MaxSaleFen int64
	// Location is the device time zone (validity days, meal periods); nil
	// uses Now's location.
	Location *time.Location
}

// Usage is the small state the terminal keeps per card for the POS rules.
// The zero Usage is a card not seen. Totals of another day count as zero.
type Usage struct {
	// LastSale is when the card's last sale on this terminal completed.
	LastSale time.Time
	// Day is the day (device time zone) TodayFen and MealUses count for.
	Day Date
	// TodayFen is the card's total charged on this terminal on Day.
	TodayFen int64
	// Meal and MealUses count the card's sales in that meal period on Day.
	Meal     string
	MealUses uint16
}

// Add returns u after the sale d completed at now; loc is the device time
// zone (nil: now's location). Only a completed sale counts: the flow calls
// Add after the debit, never for a refused or voided sale.
func (u Usage) Add(d Decision, now time.Time, loc *time.Location) Usage {
	day := DateOf(local(now, loc))
	if u.Day != day {
		u = Usage{Day: day}
	}
	u.LastSale = now
	u.TodayFen += d.Amount
	if d.Meal != "" {
		if u.Meal != d.Meal {
			u.Meal, u.MealUses = d.Meal, 0
		}
		if u.MealUses < math.MaxUint16 {
			u.MealUses++
		}
	}
	return u
}

// POSInput is everything a POS decision depends on.
type POSInput struct {
	Card Card
	// Listed is the card's status-list reason; 0 = not listed.
	Listed offline.Reason
	// ListVersion is the version of the status list held (the one Listed
	// was looked up in); 0 = none. A list older than the card's
	// StatusListVersion does not decide for the card (CheckCardStatus).
	ListVersion uint64
	Device      POS
	// Rules are the signed rules held; nil = none (device defaults apply).
	Rules *protocol.Rules
	// Usage is this card's state on this terminal.
	Usage Usage
	// Amount is the list price in fen for keyed mode (the cashier's entry)
	// and metered mode (what the flow authorises or settles); fixed and
	// per-use modes take the configured price and ignore it.
	Amount int64
	// Now is the time of the tap.
	Now time.Time
}

// DecidePOS decides a sale. The checks run in this order and the first
// refusal wins: status (list and card byte, CheckCardStatus), validity
// dates, repeat guard, meal period and its uses, class pricing (→
// Decision.Amount), daily limit (the rules' or device's, and the card's
// own), minimum balance of per-use and metered modes, overdraft; a sale
// above the PIN limit (the card's own when set, else the rules' or
// device's) is allowed with NeedPIN.
//
// Meal periods apply only in keyed and fixed modes (the canteen) and only
// when the rules configure some: then a sale outside every period is
// refused. Card.Balance must be the balance read before the sale (GET
// BALANCE), as the overdraft and minimum-balance checks use it.
func DecidePOS(in POSInput) Decision {
	dev, r := &in.Device, in.Rules
	now := local(in.Now, dev.Location)
	today := DateOf(now)

	if c := CheckCardStatus(in.Listed, in.ListVersion, in.Card); c != CodeOK {
		return refuse(c)
	}
	if c := CheckValidity(in.Card.ValidFrom, in.Card.ValidTo, today); c != CodeOK {
		return refuse(c)
	}
	if within(in.Now, in.Usage.LastSale, dev.RepeatGuard) {
		return refuse(CodeRepeatTap)
	}
	use := in.Usage
	if use.Day != today {
		use = Usage{}
	}

	canteen := dev.Mode == ModeKeyed || dev.Mode == ModeFixed
	var meal string
	if canteen && r != nil && len(r.Meals) > 0 {
		p, ok := MealAt(r.Meals, minuteOfDay(now))
		if !ok {
			return refuse(CodeNoMealPeriod)
		}
		meal = p.Name
		if p.MaxUses > 0 && use.Meal == p.Name && use.MealUses >= p.MaxUses {
			return refuse(CodeMealLimit)
		}
	}

	list, c := listPrice(&in)
	if c != CodeOK {
		return refuse(c)
	}
	amount, ok := ClassPrice(list, PricingFor(r, in.Card.Class), canteen)
	if !ok {
		return refuse(CodeInvalidAmount)
	}

	if daily := pick(rulesDaily(r), dev.DailyLimitFen, 0); daily > 0 && use.TodayFen+amount > daily {
		return refuse(CodeDailyLimit)
	}
	if daily := in.Card.DailyLimit; daily > 0 && use.TodayFen+amount > daily {
		return refuse(CodeDailyLimit)
	}
	if dev.Mode == ModePerUse || dev.Mode == ModeMetered {
		if floor := pick(rulesMinBalance(r), dev.MinBalanceFen, DefaultMinBalanceFen); in.Card.Balance <= floor {
			return refuse(CodeMinBalance)
		}
	}
	if amount > in.Card.Balance {
		return refuse(CodeInsufficient)
	}

	d := allow()
	d.Amount, d.Meal = amount, meal
	limit := in.Card.PINLimit
	if limit <= 0 {
		limit = pick(rulesPINLimit(r), dev.PINLimitFen, DefaultPINLimitFen)
	}
	d.NeedPIN = amount > limit
	return d
}

// listPrice returns the list price of the sale before class pricing.
func listPrice(in *POSInput) (int64, Code) {
	dev := &in.Device
	switch dev.Mode {
	case ModeKeyed, ModeMetered:
		if in.Amount <= 0 || in.Amount > MaxAmountFen {
			return 0, CodeInvalidAmount
		}
		if dev.Mode == ModeKeyed && dev.MaxSaleFen > 0 && in.Amount > dev.MaxSaleFen {
			return 0, CodeAmountTooHigh
		}
		return in.Amount, CodeOK
	case ModeFixed, ModePerUse:
		p := dev.PriceFen
		if in.Rules != nil && dev.PriceCode != "" {
			if rp, ok := in.Rules.Prices[dev.PriceCode]; ok {
				p = rp
			}
		}
		if p <= 0 {
			return 0, CodeNoPrice
		}
		if p > MaxAmountFen {
			return 0, CodeInvalidAmount
		}
		return p, CodeOK
	}
	return 0, CodeRuleMissing // unknown mode: fail closed
}

// pick returns the first positive of rule, device and def.
func pick(rule, device, def int64) int64 {
	switch {
	case rule > 0:
		return rule
	case device > 0:
		return device
	}
	return def
}

func rulesDaily(r *protocol.Rules) int64 {
	if r == nil {
		return 0
	}
	return r.DailyLimitFen
}

func rulesMinBalance(r *protocol.Rules) int64 {
	if r == nil {
		return 0
	}
	return r.MinBalanceFen
}

func rulesPINLimit(r *protocol.Rules) int64 {
	if r == nil {
		return 0
	}
	return r.PINLimitFen
}
