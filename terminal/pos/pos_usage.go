package pos

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
)

// lastSale is the last completed sale of this POS, which the cashier may
// cancel within the window.
type lastSale struct {
	IntentID uint64
	CardNo   string
	Amount   int64
	At       time.Time
	Reversed bool
}

// canteen reports whether the mode is a canteen's (meal periods and the
// class surcharge apply).
func (p *POS) canteen() bool {
	return p.cfg.Mode == config.ModeKeyed || p.cfg.Mode == config.ModeFixed
}

// mealAt names the meal period t falls in, "" outside every period or
// when no rules set periods (as policy.DecidePOS counts it).
func (p *POS) mealAt(t time.Time) string {
	r := p.rules()
	if !p.canteen() || r == nil || len(r.Meals) == 0 {
		return ""
	}
	lt := t.In(p.loc)
	m, ok := policy.MealAt(r.Meals, lt.Hour()*60+lt.Minute())
	if !ok {
		return ""
	}
	return m.Name
}

// price is what a sale of list price list costs this card class, as the
// policy prices it (the configured or rules' price in fixed and per-use
// modes; class percentage and, in the canteen, surcharge).
func (p *POS) price(list int64, class uint8) (int64, bool) {
	r := p.rules()
	switch p.cfg.Mode {
	case config.ModeFixed, config.ModePerUse:
		list = p.cfg.PriceFen
		if r != nil && p.cfg.PriceCode != "" {
			if rp, ok := r.Prices[p.cfg.PriceCode]; ok {
				list = rp
			}
		}
	}
	var cp *protocol.ClassPricing
	if r != nil {
		for i := range r.Classes {
			if r.Classes[i].Class == class {
				cp = &r.Classes[i]
				break
			}
		}
	}
	return policy.ClassPrice(list, cp, p.canteen())
}

// rebuildChunk is how many records rebuildUsage reads at a time.
const rebuildChunk = 512

// rebuildUsage rebuilds the per-card usage and the last sale from today's
// journal (device time zone): completed purchases count, reversed ones are
// taken off. It reads backwards from the head in chunks until a record
// before today's midnight, so its cost is today's records only (a canteen
// window's few thousand). A clock that stepped back may hide records
// older than it; the usage is then short, never doubled.
func (p *POS) rebuildUsage() error {
	h, err := p.store.Head()
	if err != nil {
		return err
	}
	now := p.now().In(p.loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, p.loc)
	from := h.Seq // records after from are today's
	for from > 0 {
		start := from - min(from, rebuildChunk)
		es, err := p.store.Records(start, int(from-start))
		if err != nil {
			return fmt.Errorf("rebuild usage: %w", err)
		}
		from = start
		if len(es) == 0 || es[0].Record.WallTime().Before(midnight) {
			break
		}
	}
	usage := map[string]policy.Usage{}
	var last *lastSale
	for after := from; after < h.Seq; {
		es, err := p.store.Records(after, rebuildChunk)
		if err != nil {
			return fmt.Errorf("rebuild usage: %w", err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			r := &e.Record
			after = r.Seq
			t := r.WallTime()
			if t.Before(midnight) {
				continue
			}
			switch r.Kind {
			case protocol.KindPurchaseCompleted:
				d := policy.Decision{Allow: true, Amount: r.Amount, Meal: p.mealAt(t)}
				usage[r.CardNo] = usage[r.CardNo].Add(d, t, p.loc)
				last = &lastSale{IntentID: r.IntentID, CardNo: r.CardNo, Amount: r.Amount, At: t}
			case protocol.KindPurchaseReversed:
				u := usage[r.CardNo]
				u.TodayFen = max(0, u.TodayFen-r.Amount)
				usage[r.CardNo] = u
				if last != nil && last.IntentID == r.IntentID {
					last.Reversed = true
				}
			}
		}
	}
	p.usage, p.last = usage, last
	return nil
}
