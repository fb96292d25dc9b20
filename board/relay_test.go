package board_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
)

// newFake builds a fake board closed at the end of the test.
func newFake(t *testing.T, spec board.Spec) *boardtest.Fake {
	t.Helper()
	f, err := boardtest.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// trace renders changes as "H@0s L@300ms", times relative to Epoch.
func trace(cs []boardtest.Change) string {
	var parts []string
	for _, c := range cs {
		l := "L"
		if c.High {
			l = "H"
		}
		parts = append(parts, fmt.Sprintf("%s@%s", l, c.Time.Sub(boardtest.Epoch)))
	}
	return strings.Join(parts, " ")
}

func wantTrace(t *testing.T, f *boardtest.Fake, name, want string) {
	t.Helper()
	if got := trace(f.Changes(name)); got != want {
		t.Errorf("%s: changes %q, want %q", name, got, want)
	}
}

func relaySpec(rs ...board.RelaySpec) board.Spec { return board.Spec{Relays: rs} }

func mustRelay(t *testing.T, b interface {
	Relay(string) (*board.Relay, error)
}, name string) *board.Relay {
	t.Helper()
	r, err := b.Relay(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPulseExactLength(t *testing.T) {
	f := newFake(t, relaySpec(board.RelaySpec{Name: "in", MinPulse: 100 * time.Millisecond}))
	r := mustRelay(t, f, "in")
	wantTrace(t, f, "in", "L@0s")
	if err := r.Pulse(context.Background(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st := r.State(); !st.Active || !st.Energised || !st.Until.Equal(boardtest.Epoch.Add(300*time.Millisecond)) {
		t.Errorf("state during pulse = %+v", st)
	}
	f.Clock.Advance(299 * time.Millisecond)
	if !f.High("in") {
		t.Fatal("relay released before 300ms")
	}
	f.Clock.Advance(time.Millisecond)
	wantTrace(t, f, "in", "L@0s H@0s L@300ms")
	if st := r.State(); st.Active || st.Energised || !st.Until.IsZero() {
		t.Errorf("state after pulse = %+v", st)
	}
	if err := r.Wait(context.Background()); err != nil {
		t.Errorf("Wait after the pulse: %v", err)
	}
}

func TestActiveLowAndSafeOn(t *testing.T) {
	for _, tc := range []struct {
		name      string
		activeLow bool
		safeOn    bool
		want      string // start, pulse, end
		energised bool   // during the pulse
	}{
		{"active high, safe off", false, false, "L@0s H@0s L@200ms", true},
		{"active low, safe off", true, false, "H@0s L@0s H@200ms", true},
		{"active high, safe on", false, true, "H@0s L@0s H@200ms", false},
		{"active low, safe on", true, true, "L@0s H@0s L@200ms", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, relaySpec(board.RelaySpec{Name: "door", ActiveLow: tc.activeLow, SafeOn: tc.safeOn}))
			r := mustRelay(t, f, "door")
			if err := r.Pulse(context.Background(), 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if st := r.State(); !st.Active || st.Energised != tc.energised {
				t.Errorf("during pulse: %+v, want active, energised=%v", st, tc.energised)
			}
			f.Clock.Advance(time.Second)
			wantTrace(t, f, "door", tc.want)
		})
	}
}

func TestSafeAfterHaltAndClose(t *testing.T) {
	f := newFake(t, relaySpec(
		board.RelaySpec{Name: "in"},
		board.RelaySpec{Name: "lock", SafeOn: true, ActiveLow: true},
	))
	in, lock := mustRelay(t, f, "in"), mustRelay(t, f, "lock")
	if err := in.Hold(); err != nil {
		t.Fatal(err)
	}
	if err := lock.Pulse(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if !in.State().Held || !lock.State().Active {
		t.Fatalf("before halt: in %+v lock %+v", in.State(), lock.State())
	}
	f.Clock.Advance(time.Second)
	if err := f.Halt(); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "in", "L@0s H@0s L@1s")
	wantTrace(t, f, "lock", "L@0s H@0s L@1s")
	// The pulse's timer must not fire into a later hold.
	if err := lock.Hold(); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(2 * time.Minute)
	if !lock.State().Active {
		t.Fatal("the halted pulse's timer released a later hold")
	}
	if err := in.Pulse(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*board.Relay{in, lock} {
		if st := r.State(); st.Active || st.Held {
			t.Errorf("%s after Close: %+v", r.Name(), st)
		}
	}
	if f.High("in") || f.High("lock") {
		t.Errorf("pins after Close: in high=%v lock high=%v, want both low (safe)", f.High("in"), f.High("lock"))
	}
	if err := in.Pulse(context.Background(), time.Second); !errors.Is(err, board.ErrClosed) {
		t.Errorf("Pulse after Close = %v, want ErrClosed", err)
	}
	if err := in.Hold(); !errors.Is(err, board.ErrClosed) {
		t.Errorf("Hold after Close = %v, want ErrClosed", err)
	}
	if err := in.Release(); err != nil {
		t.Errorf("Release after Close = %v, want nil", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestPulseRefused(t *testing.T) {
	f := newFake(t, relaySpec(board.RelaySpec{Name: "in", MinPulse: 100 * time.Millisecond}))
	r := mustRelay(t, f, "in")
	for _, d := range []time.Duration{99 * time.Millisecond, 0, -time.Second} {
		if err := r.Pulse(context.Background(), d); !errors.Is(err, board.ErrPulseTooShort) {
			t.Errorf("Pulse(%s) = %v, want ErrPulseTooShort", d, err)
		}
	}
	if err := r.Pulse(context.Background(), board.MaxPulse+1); !errors.Is(err, board.ErrPulseTooLong) {
		t.Errorf("Pulse(MaxPulse+1) = %v, want ErrPulseTooLong", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Pulse(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Pulse with a done ctx = %v, want context.Canceled", err)
	}
	wantTrace(t, f, "in", "L@0s")
	if err := r.Pulse(context.Background(), 100*time.Millisecond); err != nil {
		t.Errorf("Pulse at the minimum = %v", err)
	}
}

func TestPulseWhilePulsingExtends(t *testing.T) {
	f := newFake(t, relaySpec(board.RelaySpec{Name: "in"}))
	r := mustRelay(t, f, "in")
	ctx := context.Background()
	if err := r.Pulse(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(100 * time.Millisecond)
	// Shorter than what remains: must not cut the first pulse short.
	if err := r.Pulse(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(150 * time.Millisecond) // t = 250ms
	if !r.State().Active {
		t.Fatal("a shorter second pulse cut the first short")
	}
	// Longer than what remains: extends to 250+300.
	if err := r.Pulse(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	wantTrace(t, f, "in", "L@0s H@0s L@550ms")
}

func TestPulseDuringHold(t *testing.T) {
	f := newFake(t, relaySpec(board.RelaySpec{Name: "in"}))
	r := mustRelay(t, f, "in")
	if err := r.Hold(); err != nil {
		t.Fatal(err)
	}
	if err := r.Pulse(context.Background(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	if !r.State().Active {
		t.Fatal("the end of a pulse released a hold")
	}
	if err := r.Release(); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "in", "L@0s H@0s L@1s")
}

func TestConcurrentPulsesOnTwoRelays(t *testing.T) {
	f := newFake(t, relaySpec(board.RelaySpec{Name: "in"}, board.RelaySpec{Name: "out", ActiveLow: true}))
	in, out := mustRelay(t, f, "in"), mustRelay(t, f, "out")
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, p := range []struct {
		r *board.Relay
		d time.Duration
	}{{in, 300 * time.Millisecond}, {out, 500 * time.Millisecond}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.r.Pulse(context.Background(), p.d)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.Clock.Advance(400 * time.Millisecond)
	if in.State().Active || !out.State().Active {
		t.Fatalf("at 400ms: in %+v out %+v", in.State(), out.State())
	}
	f.Clock.Advance(100 * time.Millisecond)
	wantTrace(t, f, "in", "L@0s H@0s L@300ms")
	wantTrace(t, f, "out", "H@0s L@0s H@500ms")
}

func TestRelayWait(t *testing.T) {
	f := newFake(t, relaySpec(board.RelaySpec{Name: "in"}))
	r := mustRelay(t, f, "in")
	if err := r.Pulse(context.Background(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Wait(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned during the pulse: %v", err)
	default:
	}
	f.Clock.Advance(300 * time.Millisecond)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the pulse")
	}
	if err := r.Hold(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a held relay with a done ctx = %v", err)
	}
}
