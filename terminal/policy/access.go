package policy

import (
	"slices"
	"time"

	"github.com/openykt/yktd/protocol"
)

// findDoor returns the door's settings in r, or nil.
func findDoor(r *protocol.Rules, id string) *protocol.Door {
	for i := range r.Doors {
		if r.Doors[i].ID == id {
			return &r.Doors[i]
		}
	}
	return nil
}

// findProfile returns the named time profile in r, or nil.
func findProfile(r *protocol.Rules, id string) *protocol.TimeProfile {
	for i := range r.Profiles {
		if r.Profiles[i].ID == id {
			return &r.Profiles[i]
		}
	}
	return nil
}

// holidayOn returns the holiday on day, if any. ok is false when a holiday
// date does not parse: the rules are broken and the caller fails closed.
func holidayOn(r *protocol.Rules, day Date) (h *protocol.Holiday, ok bool) {
	for i := range r.Holidays {
		d, valid := parseDate(r.Holidays[i].Date)
		if !valid {
			return nil, false
		}
		if d == day && h == nil {
			h = &r.Holidays[i]
		}
	}
	return h, true
}

// accepts returns the credential kinds the door accepts: the rules' list for
// the door when the rules have one, else the device's.
func accepts(r *protocol.Rules, door string, device []string) []string {
	if r != nil {
		if kinds, ok := r.Credentials[door]; ok {
			return kinds
		}
	}
	return device
}

// member reports whether the credential belongs to group g.
func member(g *protocol.AccessGroup, id string, class uint8) bool {
	return slices.Contains(g.Classes, class) || slices.Contains(g.Cards, id)
}

// ProfileOpen reports whether time profile p is open at t (in the device
// time zone). A window is open on the weekdays in its Days mask from Start
// (inclusive) to End (exclusive), minutes after midnight; a window with
// Start > End runs past midnight into the next day, so its part after
// midnight belongs to the weekday before.
func ProfileOpen(p *protocol.TimeProfile, t time.Time) bool {
	minute := minuteOfDay(t)
	today := uint8(1) << uint(t.Weekday())
	yesterday := uint8(1) << uint((t.Weekday()+6)%7)
	for _, w := range p.Windows {
		start, end := int(w.Start), int(w.End)
		switch {
		case start <= end:
			if w.Days&today != 0 && minute >= start && minute < end {
				return true
			}
		default: // past midnight
			if w.Days&today != 0 && minute >= start {
				return true
			}
			if w.Days&yesterday != 0 && minute < end {
				return true
			}
		}
	}
	return false
}

// checkAccess decides group membership and time profiles for a credential
// at door at t (device time zone). Holidays replace every group's profile
// on their date; an empty holiday profile closes the day. A group that
// names an unknown profile refuses with CodeRuleMissing unless another
// group lets the credential through.
func checkAccess(r *protocol.Rules, door, id string, class uint8, t time.Time) Code {
	hol, ok := holidayOn(r, DateOf(t))
	if !ok {
		return CodeRuleMissing
	}
	var matched, missing, closed bool
	for i := range r.Groups {
		g := &r.Groups[i]
		if !slices.Contains(g.Doors, door) || !member(g, id, class) {
			continue
		}
		matched = true
		name := g.Profile
		if hol != nil {
			if hol.Profile == "" {
				closed = true
				continue
			}
			name = hol.Profile
		}
		p := findProfile(r, name)
		if p == nil {
			missing = true
			continue
		}
		if ProfileOpen(p, t) {
			return CodeOK
		}
	}
	switch {
	case !matched:
		return CodeNoAccess
	case missing:
		return CodeRuleMissing
	case closed:
		return CodeHolidayClosed
	}
	return CodeOutsideHours
}
