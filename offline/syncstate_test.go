package offline_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// TestSyncStateSurvivesRestart: the last contact with the ledger and a
// revocation are kept across a reopen, and a revocation is journaled once.
func TestSyncStateSurvivesRestart(t *testing.T) {
	clock := offlinetest.NewClock(time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC))
	s, path := offlinetest.Open(t, offline.Options{DeviceID: "pos-1", Clock: clock})
	st, err := s.SyncState()
	if err != nil || st != (offline.SyncState{}) {
		t.Fatalf("new store's sync state %+v, %v: want nothing recorded", st, err)
	}
	if _, err := s.JournalRevoked(protocol.Record{Kind: protocol.KindDeviceRevoked}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("JournalRevoked without a revocation: %v", err)
	}
	contact := clock.Now().Add(-time.Minute)
	if err := s.RecordContact(contact); err != nil {
		t.Fatal(err)
	}
	revokedAt := clock.Now()
	if err := s.SyncSource().RecordRevoked(true, revokedAt); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRevoked(true, revokedAt.Add(time.Hour)); err != nil { // answered revoked again
		t.Fatal(err)
	}
	seq, err := s.JournalRevoked(protocol.Record{Kind: protocol.KindDeviceRevoked, Reason: "ledger"})
	if err != nil || seq != 1 {
		t.Fatalf("JournalRevoked = %d, %v", seq, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = offline.Open(path, offline.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s)
	st, err = s.SyncState()
	want := offline.SyncState{LastContact: contact.UTC(), Revoked: true, RevokedAt: revokedAt.UTC(), RevokedSeq: 1}
	if err != nil || st != want {
		t.Fatalf("sync state after reopen %+v, %v; want %+v", st, err, want)
	}
	if again, err := s.JournalRevoked(protocol.Record{Kind: protocol.KindDeviceRevoked}); err != nil || again != 1 {
		t.Fatalf("JournalRevoked again = %d, %v: want the record of before", again, err)
	}
	if h, _ := s.Head(); h.Seq != 1 {
		t.Fatalf("journal head %d: the revocation was journaled twice", h.Seq)
	}
	if _, err := s.JournalRevoked(protocol.Record{Kind: protocol.KindAlarm}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("JournalRevoked of another kind: %v", err)
	}

	// Served again: the revocation is cleared; a later one is journaled anew.
	if err := s.SyncSource().RecordRevoked(false, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SyncState(); st.Revoked || st.RevokedSeq != 0 || st.LastContact.IsZero() {
		t.Fatalf("after the ledger served the device again: %+v", st)
	}
	if err := s.RecordRevoked(true, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if seq, err := s.JournalRevoked(protocol.Record{Kind: protocol.KindDeviceRevoked}); err != nil || seq != 2 {
		t.Fatalf("second revocation journaled as %d, %v", seq, err)
	}
	if _, err := s.Verify(); err != nil {
		t.Fatal(err)
	}
}
