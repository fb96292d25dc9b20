package offline_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

func TestSeenNonce(t *testing.T) {
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk})
	now := clk.Now()
	a, b := []byte("nonce-aaaa"), []byte("nonce-bbbb")
	if seen, err := s.SeenNonce(a, now.Add(time.Minute)); err != nil || seen {
		t.Fatalf("first SeenNonce(a) = %v, %v", seen, err)
	}
	if seen, err := s.SeenNonce(a, now.Add(time.Minute)); err != nil || !seen {
		t.Fatalf("second SeenNonce(a) = %v, %v, want seen", seen, err)
	}
	if seen, err := s.SeenNonce(b, now.Add(2*time.Minute)); err != nil || seen {
		t.Fatalf("SeenNonce(b) = %v, %v", seen, err)
	}
	if n, err := s.Nonces(); err != nil || n != 2 {
		t.Fatalf("Nonces = %d, %v", n, err)
	}
	// Purge forgets only what expired.
	if n, err := s.PurgeNonces(now.Add(90 * time.Second)); err != nil || n != 1 {
		t.Fatalf("PurgeNonces = %d, %v, want 1", n, err)
	}
	if seen, err := s.SeenNonce(b, now.Add(2*time.Minute)); err != nil || !seen {
		t.Fatalf("b after purge = %v, %v, want still seen", seen, err)
	}
	// a was forgotten, and the purge's time is one the store has seen:
	// a is refused as expired, never taken as new.
	if seen, err := s.SeenNonce(a, now.Add(time.Minute)); !errors.Is(err, offline.ErrNonceExpired) {
		t.Fatalf("a after purge = %v, %v, want ErrNonceExpired: a purged nonce must be refused", seen, err)
	}
	if n, err := s.Nonces(); err != nil || n != 1 {
		t.Fatalf("Nonces = %d, %v, want 1", n, err)
	}
	// Refused arguments.
	for name, fn := range map[string]func() error{
		"short":     func() error { _, err := s.SeenNonce([]byte("1234567"), now.Add(time.Minute)); return err },
		"long":      func() error { _, err := s.SeenNonce(make([]byte, 65), now.Add(time.Minute)); return err },
		"far ahead": func() error { _, err := s.SeenNonce([]byte("nonce-cccc"), now.Add(2*time.Hour)); return err },
	} {
		if err := fn(); !errors.Is(err, offline.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestSeenNonceRace: of many goroutines presenting the same nonce at once,
// exactly one sees it first.
func TestSeenNonceRace(t *testing.T) {
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk})
	const n = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh int
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen, err := s.SeenNonce([]byte("same-nonce-123"), clk.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
				return
			}
			if !seen {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Fatalf("%d callers saw the nonce first, want 1", fresh)
	}
}

func TestNonceCacheBounded(t *testing.T) {
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk})
	defer offline.SetNonceCapForTest(5)()
	now := clk.Now()
	for i := range 5 {
		exp := now.Add(time.Minute)
		if i < 2 {
			exp = now.Add(time.Second)
		}
		if _, err := s.SeenNonce(fmt.Appendf(nil, "nonce-%04d", i), exp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SeenNonce([]byte("nonce-full"), now.Add(time.Minute)); !errors.Is(err, offline.ErrNonceCacheFull) {
		t.Fatalf("SeenNonce on a full cache = %v, want ErrNonceCacheFull", err)
	}
	// Once two expire, new nonces fit again: the full cache drops them itself.
	clk.Advance(2 * time.Second)
	for _, nn := range []string{"nonce-new1", "nonce-new2"} {
		if seen, err := s.SeenNonce([]byte(nn), clk.Now().Add(time.Minute)); err != nil || seen {
			t.Fatalf("SeenNonce(%s) = %v, %v", nn, seen, err)
		}
	}
	if _, err := s.SeenNonce([]byte("nonce-new3"), clk.Now().Add(time.Minute)); !errors.Is(err, offline.ErrNonceCacheFull) {
		t.Fatalf("SeenNonce = %v, want ErrNonceCacheFull", err)
	}
	if n, _ := s.Nonces(); n != 5 {
		t.Fatalf("Nonces = %d, want 5", n)
	}
}

// TestSeenNonceDurable: a nonce seen before a restart is still seen after.
func TestSeenNonceDurable(t *testing.T) {
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	s, path := offlinetest.Open(t, offline.Options{Clock: clk})
	if seen, err := s.SeenNonce([]byte("nonce-durable"), clk.Now().Add(time.Minute)); err != nil || seen {
		t.Fatalf("SeenNonce = %v, %v", seen, err)
	}
	offlinetest.CheckAndClose(t, s)
	s2, err := offline.Open(path, offline.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s2)
	if seen, err := s2.SeenNonce([]byte("nonce-durable"), clk.Now().Add(time.Minute)); err != nil || !seen {
		t.Fatalf("SeenNonce after reopen = %v, %v, want seen", seen, err)
	}
}

// TestNoncePurgedAfterClockJump: a nonce is seen, the clock jumps a day
// ahead and the housekeeping purges by it, the clock is corrected: the
// same token, still valid by the corrected clock, is refused, also after
// a restart (the latest time the store has seen is durable).
func TestNoncePurgedAfterClockJump(t *testing.T) {
	start := time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC)
	clk := offlinetest.NewClock(start)
	s, path := offlinetest.Open(t, offline.Options{Clock: clk})
	nonce, exp := []byte("nonce-jump-0001"), start.Add(90*time.Second)
	if seen, err := s.SeenNonce(nonce, exp); err != nil || seen {
		t.Fatalf("first SeenNonce = %v, %v", seen, err)
	}
	clk.Set(start.Add(24 * time.Hour))
	if n, err := s.PurgeNonces(clk.Now()); err != nil || n != 1 {
		t.Fatalf("PurgeNonces a day ahead = %d, %v, want 1", n, err)
	}
	clk.Set(start.Add(10 * time.Second))
	if seen, err := s.SeenNonce(nonce, exp); !errors.Is(err, offline.ErrNonceExpired) {
		t.Fatalf("replay after the clock was corrected = %v, %v, want ErrNonceExpired", seen, err)
	}
	if lt, err := s.LatestTime(); err != nil || !lt.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("LatestTime = %v, %v, want the purge's time", lt, err)
	}
	offlinetest.CheckAndClose(t, s)
	s2, err := offline.Open(path, offline.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer offlinetest.CheckAndClose(t, s2)
	if seen, err := s2.SeenNonce(nonce, exp); !errors.Is(err, offline.ErrNonceExpired) {
		t.Fatalf("replay after a restart = %v, %v, want ErrNonceExpired", seen, err)
	}
}

// TestNonceBeforeLatestRecord: a record written while the clock was
// ahead counts as a time the store has seen: after the clock is set back,
// a token expiring before that record's time is refused, seen or not.
func TestNonceBeforeLatestRecord(t *testing.T) {
	start := time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC)
	clk := offlinetest.NewClock(start.Add(30 * time.Minute))
	s, _ := offlinetest.Open(t, offline.Options{Clock: clk})
	if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "tamper"}); err != nil {
		t.Fatal(err)
	}
	clk.Set(start)
	if _, err := s.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "tamper"}); err != nil {
		t.Fatal(err)
	}
	if seen, err := s.SeenNonce([]byte("nonce-old-0001"), start.Add(time.Minute)); !errors.Is(err, offline.ErrNonceExpired) {
		t.Fatalf("a token expiring before the latest record's time = %v, %v, want ErrNonceExpired", seen, err)
	}
	if lt, err := s.LatestTime(); err != nil || !lt.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("LatestTime = %v, %v, want the first record's time", lt, err)
	}
	// One expiring after it is taken.
	if seen, err := s.SeenNonce([]byte("nonce-new-0001"), start.Add(31*time.Minute)); err != nil || seen {
		t.Fatalf("SeenNonce after the latest time = %v, %v", seen, err)
	}
}
