package offline

import "time"

// Clock is the time source of the store. Now is the wall clock written into
// records; Monotonic is a clock that wall-clock changes do not move (any
// origin), used to tell a clock change from time passing. It only
// relates records written by the same Open: see Options.ClockStep for what
// cannot be detected across a restart.
type Clock interface {
	Now() time.Time
	Monotonic() time.Duration
}

// SystemClock is the real clock.
type SystemClock struct{}

var processStart = time.Now()

// Now returns time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Monotonic returns the monotonic time since the process started.
func (SystemClock) Monotonic() time.Duration { return time.Since(processStart) }
