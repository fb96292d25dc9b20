package offline_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

var (
	tidX = []byte{0, 0, 0, 0, 0x0a, 0x01}
	tidY = []byte{0, 0, 0, 0, 0x0b, 0x02}
)

// TestPSAMSwappedSurvivesRestart (issue 16): the first PSAM seen is bound;
// another one holds the device, across a reopen, and the hold is journaled
// once; the bound PSAM back ends the hold, whose end is journaled once.
func TestPSAMSwappedSurvivesRestart(t *testing.T) {
	clock := offlinetest.NewClock(time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC))
	s, path := offlinetest.Open(t, offline.Options{DeviceID: "pos-1", Clock: clock})
	if st, err := s.PSAMState(); err != nil || st.Held() || st.Bound != nil {
		t.Fatalf("new store: %+v %v", st, err)
	}
	if _, err := s.JournalPSAMHeld(protocol.Record{Kind: protocol.KindPSAMHeld}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("journal a hold not in force: %v", err)
	}
	if _, err := s.JournalPSAMReleased(protocol.Record{Kind: protocol.KindPSAMReleased}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("journal the end of no hold: %v", err)
	}
	if _, err := s.CheckPSAM([]byte{1, 2}, clock.Now()); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("2-byte terminal id: %v", err)
	}
	st, err := s.CheckPSAM(tidX, clock.Now())
	if err != nil || !bytes.Equal(st.Bound, tidX) || st.Held() {
		t.Fatalf("first PSAM: %+v %v", st, err)
	}
	if st, err := s.CheckPSAM(tidX, clock.Now()); err != nil || st.Held() {
		t.Fatalf("the bound PSAM again: %+v %v", st, err)
	}
	swappedAt := clock.Now().Add(time.Minute)
	if st, err := s.CheckPSAM(tidY, swappedAt); err != nil || !st.Held() || !bytes.Equal(st.Swapped, tidY) || !st.Since().Equal(swappedAt) {
		t.Fatalf("another PSAM: %+v %v", st, err)
	}
	if st, _ := s.CheckPSAM(tidY, swappedAt.Add(time.Hour)); !st.SwappedAt.Equal(swappedAt) {
		t.Errorf("the swap's time moved: %v", st.SwappedAt)
	}
	if _, err := s.JournalPSAMHeld(protocol.Record{Kind: protocol.KindDeviceRevoked}); !errors.Is(err, offline.ErrInvalid) {
		t.Errorf("another kind: %v", err)
	}
	seq, err := s.JournalPSAMHeld(protocol.Record{Kind: protocol.KindPSAMHeld, Reason: offline.ReasonPSAMSwapped, TerminalID: tidY})
	if err != nil || seq != 1 {
		t.Fatalf("JournalPSAMHeld = %d, %v", seq, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = offline.Open(path, offline.Options{DeviceID: "pos-1", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s)
	st, err = s.PSAMState()
	if err != nil || !st.Held() || !bytes.Equal(st.Bound, tidX) || !bytes.Equal(st.Swapped, tidY) || st.HeldSeq != 1 || !st.SwappedAt.Equal(swappedAt) {
		t.Fatalf("after a reopen: %+v %v", st, err)
	}
	if again, err := s.JournalPSAMHeld(protocol.Record{Kind: protocol.KindPSAMHeld}); err != nil || again != 1 {
		t.Fatalf("the same hold journaled again: %d %v", again, err)
	}
	if _, err := s.JournalPSAMReleased(protocol.Record{Kind: protocol.KindPSAMReleased}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("release journaled while held: %v", err)
	}
	// The bound PSAM is back.
	if st, err := s.CheckPSAM(tidX, clock.Now()); err != nil || st.Held() || st.HeldSeq != 1 {
		t.Fatalf("bound PSAM back: %+v %v", st, err)
	}
	rel, err := s.JournalPSAMReleased(protocol.Record{Kind: protocol.KindPSAMReleased, Reason: offline.ReasonPSAMLedger, TerminalID: tidX})
	if err != nil || rel != 2 {
		t.Fatalf("JournalPSAMReleased = %d, %v", rel, err)
	}
	if st, err := s.PSAMState(); err != nil || st.HeldSeq != 0 || st.Held() || !bytes.Equal(st.Bound, tidX) {
		t.Fatalf("after the release: %+v %v", st, err)
	}
	es, err := s.Records(0, 2)
	if err != nil || len(es) != 2 || es[0].Record.Kind != protocol.KindPSAMHeld || !bytes.Equal(es[0].Record.TerminalID, tidY) ||
		es[1].Record.Kind != protocol.KindPSAMReleased {
		t.Fatalf("journal %+v %v", es, err)
	}
}

// TestPSAMLedgerHold: the ledger's hold is recorded once with its first
// time; its end after a rebind makes the PSAM found in the device (a swap)
// the bound one; the end of a hold the ledger never had changes nothing.
func TestPSAMLedgerHold(t *testing.T) {
	clock := offlinetest.NewClock(time.Date(2026, 10, 8, 12, 0, 0, 0, time.UTC))
	s, _ := offlinetest.Open(t, offline.Options{DeviceID: "pos-1", Clock: clock})
	defer offlinetest.CheckAndClose(t, s)
	if err := s.BindPSAM(tidX); err != nil {
		t.Fatal(err)
	}
	if err := s.BindPSAM([]byte{1}); !errors.Is(err, offline.ErrInvalid) {
		t.Fatalf("1-byte bind: %v", err)
	}
	src := s.SyncSource()
	if err := src.RecordLedgerHeld(false, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPSAM(tidY, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.PSAMState(); !st.Held() || !bytes.Equal(st.Bound, tidX) {
		t.Fatalf("a swap with the ledger not holding: %+v", st)
	}
	at := clock.Now().Add(time.Second)
	if err := src.RecordLedgerHeld(true, at); err != nil {
		t.Fatal(err)
	}
	if err := src.RecordLedgerHeld(true, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, err := s.PSAMState()
	if err != nil || !st.LedgerHeld || !st.LedgerHeldAt.Equal(at) {
		t.Fatalf("ledger hold: %+v %v", st, err)
	}
	if err := src.RecordLedgerHeld(false, at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	st, err = s.PSAMState()
	if err != nil || st.Held() || !bytes.Equal(st.Bound, tidY) || st.Swapped != nil {
		t.Fatalf("after the ledger let the device go: %+v %v", st, err)
	}
	if st, _ := s.CheckPSAM(tidY, clock.Now()); st.Held() {
		t.Fatalf("the re-bound PSAM holds the device: %+v", st)
	}
	if err := s.BindPSAM(tidX); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.PSAMState(); !bytes.Equal(st.Bound, tidX) {
		t.Fatalf("BindPSAM: %+v", st)
	}
}
