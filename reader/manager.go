package reader

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff is the restart policy of a failed reader: exponential growth from
// Min to Max with full jitter in the upper half (so that two readers on one
// hub do not retry in lock-step).
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is used when a Manager has none: 200 ms doubling to 30 s.
var DefaultBackoff = Backoff{Min: 200 * time.Millisecond, Max: 30 * time.Second}

// delay returns the wait before restart number n (n ≥ 1).
func (b Backoff) delay(n int, rnd func() float64) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	// Jitter: uniformly in [d/2, d].
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// Manager runs several readers at once (an RF reader and a SAM slot, a card
// reader and a QR scanner) into one event channel, restarting each reader by
// itself with backoff when it fails, and logging every failure and recovery.
type Manager struct {
	Readers []Reader
	Backoff Backoff      // zero value: DefaultBackoff
	Log     *slog.Logger // nil: slog.Default()
	// Sleep waits for d or until ctx is done; tests inject a fake. Nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// StableAfter: a reader that ran this long before failing starts its
	// backoff afresh. Zero means 1 minute.
	StableAfter time.Duration
	// Now returns the time; nil means time.Now.
	Now func() time.Time
}

// Run runs every reader until ctx is done, sending their events on events.
// It returns when ctx is done and all readers have stopped; it never closes
// events.
func (m *Manager) Run(ctx context.Context, events chan<- Event) {
	var wg sync.WaitGroup
	for _, r := range m.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.supervise(ctx, r, events)
		}()
	}
	wg.Wait()
}

func (m *Manager) supervise(ctx context.Context, r Reader, events chan<- Event) {
	log := m.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("reader", r.Name())
	bo := m.Backoff
	if bo.Min <= 0 || bo.Max < bo.Min {
		bo = DefaultBackoff
	}
	sleep := m.Sleep
	if sleep == nil {
		sleep = SleepContext
	}
	now := m.Now
	if now == nil {
		now = time.Now
	}
	stable := m.StableAfter
	if stable <= 0 {
		stable = time.Minute
	}
	failures := 0
	var downSince time.Time
	for {
		started := now()
		var err error
		if failures > 0 {
			log.Info("reader restarting", "attempt", failures+1)
			err = m.runWatched(ctx, r, events, log, failures, now().Sub(downSince))
		} else {
			err = r.Run(ctx, events)
		}
		if ctx.Err() != nil {
			return
		}
		if now().Sub(started) >= stable {
			failures = 0
		}
		if failures == 0 {
			downSince = now()
		}
		failures++
		d := bo.delay(failures, rand.Float64)
		if err == nil {
			err = errors.New("reader stopped without error")
		}
		log.Warn("reader failed, will retry", "err", err, "failures", failures, "retry_in", d.Round(time.Millisecond))
		if sleep(ctx, d) != nil {
			return
		}
	}
}

// runWatched runs a reader that failed before, passing its events through so
// that the first one is logged as its recovery: a technician reading the log
// sees when the reader worked again, not only that it was retried.
func (m *Manager) runWatched(ctx context.Context, r Reader, events chan<- Event, log *slog.Logger, failures int, down time.Duration) error {
	ch := make(chan Event)
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		for e := range ch {
			if first {
				log.Info("reader recovered", "failures", failures, "down_for", down.Round(time.Millisecond))
				first = false
			}
			select {
			case events <- e:
			case <-ctx.Done():
			}
		}
	}()
	err := r.Run(ctx, ch)
	close(ch)
	<-done
	return err
}

// SleepContext waits for d or until ctx is done, returning ctx's error in
// that case. It is the default Sleep of the drivers that take an injectable
// one.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
