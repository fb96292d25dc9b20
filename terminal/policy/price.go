package policy

import "github.com/openykt/yktd/protocol"

// PricingFor returns the pricing of a card class in r, or nil when r is nil
// or has none for the class (the list price applies). A metered session's
// flow prices its settlement with ClassPrice(minutes × rate, PricingFor(...),
// false).
func PricingFor(r *protocol.Rules, class uint8) *protocol.ClassPricing {
	if r == nil {
		return nil
	}
	for i := range r.Classes {
		if r.Classes[i].Class == class {
			return &r.Classes[i]
		}
	}
	return nil
}

// ClassPrice applies a card class's pricing to a list price: list ×
// Percent / 100 rounded half up to the fen (a 10 % discount on 1.05 yuan
// is 94.5 → 95 fen), plus the class's surcharge (搭伙费) when surcharge is
// true — the POS decision adds it to canteen sales (keyed and fixed modes)
// only, as it is a meal surcharge. A nil pricing or Percent 0 keeps the list
// price. ok is false when the result is not in 1..MaxAmountFen.
func ClassPrice(list int64, p *protocol.ClassPricing, surcharge bool) (amount int64, ok bool) {
	if list <= 0 || list > MaxAmountFen {
		return 0, false
	}
	amount = list
	if p != nil {
		if p.Percent != 0 {
			// list ≤ 2^32 and Percent < 2^16: the product fits in int64.
			amount = (list*int64(p.Percent) + 50) / 100
		}
		if surcharge {
			if p.SurchargeFen < 0 || p.SurchargeFen > MaxAmountFen {
				return 0, false
			}
			amount += p.SurchargeFen
		}
	}
	if amount <= 0 || amount > MaxAmountFen {
		return 0, false
	}
	return amount, true
}

// MealAt returns the meal period open at minute (minutes after midnight,
// device time zone): Start ≤ minute < End. A period with Start > End runs
// past midnight (a late-night window); its uses count per calendar day.
// The first matching period wins.
func MealAt(meals []protocol.MealPeriod, minute int) (protocol.MealPeriod, bool) {
	for _, m := range meals {
		if inWindow(int(m.Start), int(m.End), minute) {
			return m, true
		}
	}
	return protocol.MealPeriod{}, false
}

// inWindow reports whether minute lies in [start, end), wrapping past
// midnight when start > end. start == end is an empty window.
func inWindow(start, end, minute int) bool {
	if start <= end {
		return minute >= start && minute < end
	}
	return minute >= start || minute < end
}
