package offline_test

import (
	"errors"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// TestTamper: the tamper alarm is journaled once until cleared, survives
// a reopen, and its clearing is journaled with the technician; clearing
// nothing or with a bad name is refused and journals nothing.
func TestTamper(t *testing.T) {
	s, path := offlinetest.Open(t, offline.Options{})
	if seq, err := s.Tamper(); err != nil || seq != 0 {
		t.Fatalf("fresh store: %d %v", seq, err)
	}
	if _, err := s.ClearTamper("wang"); !errors.Is(err, offline.ErrIntentState) {
		t.Fatalf("clear with none set: %v", err)
	}
	first, err := s.JournalTamper()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.JournalTamper(); err != nil || again != first {
		t.Fatalf("second alarm while set: %d %v, want %d", again, err, first)
	}
	s = reopenStore(t, s, path)
	if seq, err := s.Tamper(); err != nil || seq != first {
		t.Fatalf("after reopen: %d %v", seq, err)
	}
	for _, bad := range []string{"", "wang wei", "a-name-much-longer-than-thirty-two-chars"} {
		if _, err := s.ClearTamper(bad); !errors.Is(err, offline.ErrInvalid) {
			t.Fatalf("technician %q: %v", bad, err)
		}
	}
	cleared, err := s.ClearTamper("wang")
	if err != nil {
		t.Fatal(err)
	}
	if seq, _ := s.Tamper(); seq != 0 {
		t.Fatalf("still set after clear: %d", seq)
	}
	es, err := s.Records(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range es {
		if e.Record.Kind == protocol.KindAlarm {
			reasons = append(reasons, e.Record.Reason)
		}
	}
	if len(reasons) != 2 || reasons[0] != offline.ReasonTamper || reasons[1] != "tamper-cleared by wang" || cleared <= first {
		t.Fatalf("alarm records %v", reasons)
	}
}
