package policy

import "time"

// Direction is the way through a gate.
type Direction uint8

// Directions of a pass. Any value other than Out counts as In.
const (
	In  Direction = 1
	Out Direction = 2
)

// String names the direction.
func (d Direction) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// Passback is one card's anti-passback state at one gate: when it last
// passed in each direction. The zero Passback is a card that never passed.
// The state may live in memory only: after a restart nobody is refused.
type Passback struct {
	In, Out time.Time
}

// Passed returns p after a pass in dir actually taken at now (the passage
// sensor saw it). A pass granted but not taken must not advance it.
func (p Passback) Passed(dir Direction, now time.Time) Passback {
	if dir == Out {
		p.Out = now
	} else {
		p.In = now
	}
	return p
}

// Blocks reports whether a pass in dir at now is refused: the card passed
// the same way less than window ago (a pass exactly window later is
// allowed). The other direction is never blocked; window ≤ 0 disables.
func (p Passback) Blocks(dir Direction, now time.Time, window time.Duration) bool {
	last := p.In
	if dir == Out {
		last = p.Out
	}
	return within(now, last, window)
}
