package board_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
)

func TestBeepPatterns(t *testing.T) {
	f := newFake(t, board.Spec{Indicators: []board.IndicatorSpec{
		{Name: "buzzer"}, {Name: "red", ActiveLow: true},
	}})
	bz, err := f.Indicator("buzzer")
	if err != nil {
		t.Fatal(err)
	}
	if err := bz.Beep(false); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	wantTrace(t, f, "buzzer", "L@0s H@0s L@100ms H@200ms L@300ms H@400ms L@500ms")
	if err := bz.Beep(true); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	wantTrace(t, f, "buzzer", "L@0s H@0s L@100ms H@200ms L@300ms H@400ms L@500ms H@1s L@1.1s")
	wantTrace(t, f, "red", "H@0s") // active-low LED off at start
}

func TestBlinkUntilStopped(t *testing.T) {
	f := newFake(t, board.Spec{Indicators: []board.IndicatorSpec{{Name: "green"}}})
	g, _ := f.Indicator("green")
	if err := g.Blink(board.Pattern{On: 500 * time.Millisecond, Off: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(2200 * time.Millisecond)
	if !g.Lit() {
		t.Fatal("endless blink is off at 2.2s, want on")
	}
	if err := g.Off(); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(10 * time.Second)
	wantTrace(t, f, "green", "L@0s H@0s L@500ms H@1s L@1.5s H@2s L@2.2s")
	// A new pattern replaces a running one.
	if err := g.Blink(board.BeepRefused); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(150 * time.Millisecond)
	if err := g.On(); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	if !g.Lit() {
		t.Fatal("On after a pattern did not stay on")
	}
	if err := f.Halt(); err != nil {
		t.Fatal(err)
	}
	if g.Lit() {
		t.Fatal("lit after Halt")
	}
}

func TestBadPattern(t *testing.T) {
	f := newFake(t, board.Spec{Indicators: []board.IndicatorSpec{{Name: "green"}}})
	g, _ := f.Indicator("green")
	for _, p := range []board.Pattern{
		{},
		{On: time.Second, Count: 2},
		{On: time.Second, Off: time.Second, Count: -1},
	} {
		if err := g.Blink(p); !errors.Is(err, board.ErrBadPattern) {
			t.Errorf("Blink(%+v) = %v, want ErrBadPattern", p, err)
		}
	}
}
