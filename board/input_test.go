package board_test

import (
	"context"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
)

func nextEdge(t *testing.T, ch <-chan board.Edge) board.Edge {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no edge")
	}
	return board.Edge{}
}

// noEdge asserts that nothing is waiting: edges are delivered synchronously
// by SetInput (no debounce) or Clock.Advance (debounce), so none can be late.
func noEdge(t *testing.T, ch <-chan board.Edge) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected edge %v", e)
	default:
	}
}

func at(d time.Duration) time.Time { return boardtest.Epoch.Add(d) }

func set(t *testing.T, f *boardtest.Fake, name string, active bool) {
	t.Helper()
	if err := f.SetInput(name, active); err != nil {
		t.Fatal(err)
	}
}

func TestDebounceSwallowsBounces(t *testing.T) {
	f := newFake(t, board.Spec{Inputs: []board.InputSpec{{Name: "passage_in", Debounce: 20 * time.Millisecond}}})
	in, err := f.Input("passage_in")
	if err != nil {
		t.Fatal(err)
	}
	ch := in.Watch(context.Background())
	// A contact that bounces for 10 ms, then stays closed.
	set(t, f, "passage_in", true)
	f.Clock.Advance(3 * time.Millisecond)
	set(t, f, "passage_in", false)
	f.Clock.Advance(4 * time.Millisecond)
	set(t, f, "passage_in", true)
	f.Clock.Advance(3 * time.Millisecond)
	set(t, f, "passage_in", false)
	f.Clock.Advance(time.Millisecond)
	set(t, f, "passage_in", true) // t = 11ms: stays from here
	f.Clock.Advance(19 * time.Millisecond)
	noEdge(t, ch)
	if in.Active() {
		t.Fatal("active before the debounce time")
	}
	f.Clock.Advance(time.Millisecond) // t = 31ms
	e := nextEdge(t, ch)
	if e.Input != "passage_in" || !e.Active || !e.Time.Equal(at(11*time.Millisecond)) {
		t.Fatalf("edge = %+v, want active at 11ms", e)
	}
	if !in.Active() {
		t.Fatal("Active() false after the edge")
	}
	// A glitch shorter than the debounce: swallowed entirely.
	set(t, f, "passage_in", false)
	f.Clock.Advance(19 * time.Millisecond)
	set(t, f, "passage_in", true)
	f.Clock.Advance(time.Second)
	noEdge(t, ch)
	// A real release.
	set(t, f, "passage_in", false)
	f.Clock.Advance(20 * time.Millisecond)
	if e := nextEdge(t, ch); e.Active {
		t.Fatalf("edge = %+v, want inactive", e)
	}
}

func TestNoDebounceReportsAtOnce(t *testing.T) {
	f := newFake(t, board.Spec{Inputs: []board.InputSpec{{Name: "fire"}}})
	ch := f.Watch(context.Background())
	set(t, f, "fire", true)
	if e := nextEdge(t, ch); !e.Active || !e.Time.Equal(at(0)) {
		t.Fatalf("edge = %+v", e)
	}
	f.Clock.Advance(time.Millisecond)
	set(t, f, "fire", false)
	if e := nextEdge(t, ch); e.Active || !e.Time.Equal(at(time.Millisecond)) {
		t.Fatalf("edge = %+v", e)
	}
}

func TestEdgeOrderAcrossInputs(t *testing.T) {
	f := newFake(t, board.Spec{Inputs: []board.InputSpec{
		{Name: "a", Debounce: 10 * time.Millisecond},
		{Name: "b", Debounce: 30 * time.Millisecond},
	}})
	ch := f.Watch(context.Background())
	set(t, f, "b", true) // confirmed at 30ms
	f.Clock.Advance(5 * time.Millisecond)
	set(t, f, "a", true) // confirmed at 15ms
	f.Clock.Advance(20 * time.Millisecond)
	set(t, f, "a", false) // at 25ms, confirmed at 35ms
	f.Clock.Advance(time.Second)
	want := []board.Edge{
		{Input: "a", Active: true, Time: at(5 * time.Millisecond)},
		{Input: "b", Active: true, Time: at(0)},
		{Input: "a", Active: false, Time: at(25 * time.Millisecond)},
	}
	for i, w := range want {
		if e := nextEdge(t, ch); e != w {
			t.Errorf("edge %d = %+v, want %+v", i, e, w)
		}
	}
	noEdge(t, ch)
}

func TestInputActiveLow(t *testing.T) {
	f := newFake(t, board.Spec{Inputs: []board.InputSpec{
		{Name: "door", Pin: "GPIO5", ActiveLow: true, Pull: board.PullUp},
	}})
	in, err := f.Input("door")
	if err != nil {
		t.Fatal(err)
	}
	if in.Active() {
		t.Fatal("pulled-up active-low input reads active at start")
	}
	ch := in.Watch(context.Background())
	f.Pins.Set("GPIO5", false) // contact closes to ground
	if e := nextEdge(t, ch); !e.Active {
		t.Fatalf("pin low on an active-low input: edge %+v", e)
	}
	set(t, f, "door", false)
	if f.Pins.High("GPIO5") != true {
		t.Error("SetInput(inactive) on an active-low input did not drive the pin high")
	}
	if e := nextEdge(t, ch); e.Active {
		t.Fatalf("edge %+v, want inactive", e)
	}
}

func TestWatchEnds(t *testing.T) {
	f := newFake(t, board.Spec{Inputs: []board.InputSpec{{Name: "a"}}})
	ctx, cancel := context.WithCancel(context.Background())
	ch := f.Watch(ctx)
	in, _ := f.Input("a")
	ich := in.Watch(context.Background())
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("edge on a cancelled watch")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled watch not closed")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ich; ok {
		t.Fatal("input watch open after Close")
	}
	if _, ok := <-f.Watch(context.Background()); ok {
		t.Fatal("Watch after Close returned an open channel")
	}
	// Driving a pin of a closed board must not block.
	set(t, f, "a", true)
}
