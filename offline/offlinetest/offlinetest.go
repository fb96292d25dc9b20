// Package offlinetest helps tests that need an offline store: a store in a
// temporary directory that is verified and checked when the test ends, and a
// fake clock the test moves by hand.
package offlinetest

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	berrors "go.etcd.io/bbolt/errors"
)

// DeviceID is the device id of stores made by Open unless opts say otherwise.
const DeviceID = "test-device-0001"

// Clock is a fake offline.Clock. Advance moves both the wall and the
// monotonic clock (time passing); Set moves only the wall clock (someone
// changed the clock). Safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	wall time.Time
	mono time.Duration
}

// NewClock returns a fake clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{wall: t} }

// Now returns the fake wall time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// Monotonic returns the fake monotonic time.
func (c *Clock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Advance lets d pass.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
	c.mono += d
}

// Set changes the wall clock to t without time passing.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = t
}

// Open opens a new store in t.TempDir() with opts (DeviceID defaults to
// DeviceID, Clock to a fake clock at 2024-09-01 08:00 UTC). At cleanup it
// runs Verify and bbolt's consistency check and closes the store; a failure
// fails the test. It returns the store and its path.
func Open(t testing.TB, opts offline.Options) (*offline.Store, string) {
	t.Helper()
	if opts.DeviceID == "" {
		opts.DeviceID = DeviceID
	}
	if opts.Clock == nil {
		opts.Clock = NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	}
	path := filepath.Join(t.TempDir(), "yktd.db")
	s, err := offline.Open(path, opts)
	if err != nil {
		t.Fatalf("offlinetest: open: %v", err)
	}
	t.Cleanup(func() { CheckAndClose(t, s) })
	return s, path
}

// CheckAndClose verifies the journal, runs bbolt's consistency check and
// closes s, failing t on any error. Closing an already closed store is
// tolerated so that tests may close early.
func CheckAndClose(t testing.TB, s *offline.Store) {
	t.Helper()
	if _, err := s.Verify(); err != nil && !closed(err) {
		t.Errorf("offlinetest: verify at close: %v", err)
	}
	if err := s.CheckConsistency(); err != nil && !closed(err) {
		t.Errorf("offlinetest: consistency at close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("offlinetest: close: %v", err)
	}
}

func closed(err error) bool { return errors.Is(err, berrors.ErrDatabaseNotOpen) }
