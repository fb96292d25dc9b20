package reader

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
)

// flakyReader fails its first failures runs (as an unplugged USB reader
// would), then sends one event and blocks until cancelled.
type flakyReader struct {
	name     string
	failures int
	mu       sync.Mutex
	runs     int
}

func (r *flakyReader) Name() string { return r.name }

func (r *flakyReader) Run(ctx context.Context, events chan<- Event) error {
	r.mu.Lock()
	r.runs++
	n := r.runs
	r.mu.Unlock()
	if n <= r.failures {
		return errors.New("device unplugged")
	}
	select {
	case events <- Event{Reader: r.name, Kind: TextCredential, Text: "hello"}:
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	return nil
}

func TestManagerRestartsFailedReaders(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testbuf.Buffer
	var mu sync.Mutex
	var delays []time.Duration
	a := &flakyReader{name: "rf", failures: 3}
	b := &flakyReader{name: "qr"}
	m := &Manager{
		Readers: []Reader{a, b},
		Backoff: Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		Log:     slog.New(slog.NewTextHandler(&logs, nil)),
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
			return ctx.Err()
		},
	}
	events := make(chan Event)
	done := make(chan struct{})
	go func() { m.Run(ctx, events); close(done) }()

	seen := map[string]bool{}
	for len(seen) < 2 {
		e := <-events
		seen[e.Reader] = true
	}
	cancel()
	<-done

	if a.runs != 4 {
		t.Errorf("flaky reader ran %d times, want 4", a.runs)
	}
	if len(delays) != 3 {
		t.Fatalf("slept %d times, want 3", len(delays))
	}
	// Growth with jitter in [d/2, d]: 100ms, 200ms, 400ms ceilings.
	for i, ceil := range []time.Duration{100, 200, 400} {
		ceil *= time.Millisecond
		if delays[i] < ceil/2 || delays[i] > ceil {
			t.Errorf("delay %d = %v, want in [%v, %v]", i, delays[i], ceil/2, ceil)
		}
	}
	out := logs.String()
	if strings.Count(out, "reader failed, will retry") != 3 || !strings.Contains(out, "device unplugged") || !strings.Contains(out, "reader=rf") {
		t.Errorf("log does not tell the technician about the failures:\n%s", out)
	}
	if !strings.Contains(out, "reader restarting") {
		t.Errorf("log does not tell about the restarts:\n%s", out)
	}
	var recovered []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "reader=qr") {
			t.Errorf("the healthy reader was logged: %s", line)
		}
		if strings.Contains(line, `msg="reader recovered"`) {
			recovered = append(recovered, line)
		}
	}
	if len(recovered) != 1 || !strings.Contains(recovered[0], "reader=rf") || !strings.Contains(recovered[0], "failures=3") {
		t.Errorf("want one line saying reader rf recovered after 3 failures, got %q", recovered)
	}
}

func TestBackoffCaps(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 8 * time.Second}
	one := func() float64 { return 1 }
	zero := func() float64 { return 0 }
	if d := b.delay(10, one); d != 8*time.Second {
		t.Errorf("delay(10) = %v, want the cap 8s", d)
	}
	if d := b.delay(1, zero); d != 500*time.Millisecond {
		t.Errorf("delay(1) with zero jitter = %v, want 500ms", d)
	}
}

func TestEventString(t *testing.T) {
	e := Event{Reader: "qr0", Kind: TextCredential, Tech: TechQR, Text: "secret-token"}
	if s := e.String(); strings.Contains(s, "secret-token") || !strings.Contains(s, "len=12") {
		t.Errorf("text event logged as %q: must not show the code itself", s)
	}
	e = Event{Reader: "rf", Kind: CardPresent, Tech: TechISO14443A, UID: []byte{1, 2, 3, 4}}
	if s := e.String(); !strings.Contains(s, "uid=01020304") {
		t.Errorf("card event = %q", s)
	}
}
