package policy

import "time"

// Decision is the outcome of a tap and what the flow must do next.
type Decision struct {
	// Allow is true when the sale or pass may go ahead (after the PIN when
	// NeedPIN is set).
	Allow bool
	// Code is the reason: CodeOK, CodeEmergency or the first rule refused.
	Code Code
	// Message is Code's display text.
	Message Message
	// NeedPIN asks the flow for the card PIN (keypad, then VERIFY on the
	// card) before it goes on; a failed PIN is CodeWrongPIN.
	NeedPIN bool
	// Amount is what a POS sale charges after class pricing, in fen.
	Amount int64
	// Meal is the meal period the sale falls in ("" outside or when none
	// apply); Usage.Add counts the use against it.
	Meal string
	// Unlock (gate, emergency) tells the flow the lanes are released and
	// stay open while the fire alarm is active.
	Unlock bool
}

func refuse(c Code) Decision { return Decision{Code: c, Message: c.Message()} }

func allow() Decision { return Decision{Allow: true, Code: CodeOK, Message: CodeOK.Message()} }

// Date is a calendar day as YYYYMMDD (20261122), comparable with < and ==.
// The zero Date means "no date" (an open bound).
type Date uint32

// DateOf returns the calendar day of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return MakeDate(y, m, d)
}

// MakeDate returns the Date of year, month and day (not normalised: the
// caller passes a real day). A year outside 0..9999 gives the zero Date.
func MakeDate(year int, month time.Month, day int) Date {
	if year < 0 || year > 9999 {
		return 0
	}
	return Date(year*10000 + int(month)*100 + day)
}

// parseDate parses "YYYY-MM-DD" without allocating; ok is false otherwise.
func parseDate(s string) (Date, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint32(c-'0')
	}
	m, d := n/100%100, n%100
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	return Date(n), true
}

// local returns now in loc, or now unchanged when loc is nil.
func local(now time.Time, loc *time.Location) time.Time {
	if loc == nil {
		return now
	}
	return now.In(loc)
}

// minuteOfDay returns minutes after midnight of t in its own location.
func minuteOfDay(t time.Time) int {
	h, m, _ := t.Clock()
	return h*60 + m
}

// within reports whether t lies less than window away from ref in either
// direction: a clock stepped back must not reopen a window.
func within(t, ref time.Time, window time.Duration) bool {
	if window <= 0 || ref.IsZero() {
		return false
	}
	d := t.Sub(ref)
	return d < window && d > -window
}
