package readertest

import (
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
)

// NextEvent returns the next event from events and fails the test unless
// it is of kind want. The limit only bounds a test that hangs: it fails
// the test when no event comes within it.
func NextEvent(t testing.TB, events <-chan reader.Event, want reader.EventKind, limit time.Duration) reader.Event {
	t.Helper()
	select {
	case ev := <-events:
		if ev.Kind != want {
			t.Fatalf("event %v, want %v", ev, want)
		}
		return ev
	case <-time.After(limit):
		t.Fatalf("no %v event within %v", want, limit)
	}
	return reader.Event{}
}
