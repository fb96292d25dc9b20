package syncclient

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is the client's time source: Now for timestamps and logs, After
// for waits (backoff, interval) so that tests control time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// backoff grows a wait from base, doubling per failure up to max, with
// "equal jitter": half the step fixed, half uniformly random, so that a
// campus of terminals coming back after an outage does not hit the ledger
// in step. Reset after a success.
type backoff struct {
	base, max time.Duration
	n         int
	rand      func(int64) int64 // [0, n)
}

func newBackoff(base, max time.Duration) *backoff {
	return &backoff{base: base, max: max, rand: rand.Int64N}
}

// next returns the wait after one more failure.
func (b *backoff) next() time.Duration {
	d := b.base
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.n < 62 {
		b.n++
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(b.rand(int64(d-half)+1))
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d on clk or until ctx ends (then its error).
func sleep(ctx context.Context, clk Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-clk.After(d):
		return nil
	}
}
