package boardtest

import (
	"context"
	"testing"
	"time"
)

func TestClockOrderAndStop(t *testing.T) {
	c := NewClock(Epoch)
	var got []string
	c.AfterFunc(20*time.Millisecond, func() { got = append(got, "b@"+c.Now().Sub(Epoch).String()) })
	c.AfterFunc(10*time.Millisecond, func() {
		got = append(got, "a@"+c.Now().Sub(Epoch).String())
		// Scheduled inside the window: runs in the same Advance.
		c.AfterFunc(5*time.Millisecond, func() { got = append(got, "c@"+c.Now().Sub(Epoch).String()) })
	})
	stopped := c.AfterFunc(12*time.Millisecond, func() { got = append(got, "never") })
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop: want true then false")
	}
	c.Advance(30 * time.Millisecond)
	want := "[a@10ms c@15ms b@20ms]"
	if s := fmtList(got); s != want {
		t.Errorf("order %s, want %s", s, want)
	}
	if !c.Now().Equal(Epoch.Add(30 * time.Millisecond)) {
		t.Errorf("Now = %v", c.Now())
	}
}

func fmtList(l []string) string {
	s := "["
	for i, x := range l {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}

func TestAwaitTimers(t *testing.T) {
	c := NewClock(Epoch)
	done := make(chan error, 1)
	go func() { done <- c.AwaitTimers(context.Background(), 2) }()
	c.AfterFunc(time.Second, func() {})
	c.AfterFunc(time.Second, func() {})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AwaitTimers did not see two timers")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.AwaitTimers(ctx, 3); err == nil {
		t.Fatal("AwaitTimers(3) with 2 timers and a done ctx returned nil")
	}
}

func TestPinsRecordOnlyChanges(t *testing.T) {
	c := NewClock(Epoch)
	ps := NewPins(c)
	p := ps.Get("P1")
	_ = p.Out(false) // first write is recorded even at the initial level
	_ = p.Out(false)
	c.Advance(time.Millisecond)
	_ = p.Out(true)
	if got := len(ps.ChangesOf("P1")); got != 2 {
		t.Fatalf("changes = %d (%v), want 2", got, ps.Changes())
	}
	if ch := ps.Changes()[1]; !ch.High || !ch.Time.Equal(Epoch.Add(time.Millisecond)) {
		t.Errorf("second change %+v", ch)
	}
}
