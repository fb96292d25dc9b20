package board_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"periph.io/x/conn/v3/gpio"
)

var errWire = errors.New("wire cut")

// brokenPin refuses to go high.
type brokenPin struct{ *boardtest.Pin }

func (p brokenPin) Out(l gpio.Level) error {
	if l == gpio.High {
		return errWire
	}
	return p.Pin.Out(l)
}

type brokenPins struct{ *boardtest.Pins }

func (ps brokenPins) Pin(name string) (gpio.PinIO, error) { return brokenPin{ps.Get(name)}, nil }

func TestPulseOnABrokenPin(t *testing.T) {
	clock := boardtest.NewClock(boardtest.Epoch)
	b, err := board.New(board.Spec{Relays: []board.RelaySpec{{Name: "in", Pin: "P1"}}},
		board.Options{Pins: brokenPins{boardtest.NewPins(clock)}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, _ := b.Relay("in")
	if err := r.Pulse(context.Background(), time.Second); !errors.Is(err, errWire) {
		t.Fatalf("Pulse = %v, want the pin's error", err)
	}
	if st := r.State(); st.Active || !st.Until.IsZero() {
		t.Errorf("state after a failed pulse: %+v", st)
	}
	if len(clock.Pending()) != 0 {
		t.Errorf("a failed pulse left a timer: %v", clock.Pending())
	}
}

func TestSafeOnRelayThatCannotEnergiseRefusesTheBoard(t *testing.T) {
	_, err := board.New(board.Spec{Relays: []board.RelaySpec{{Name: "lock", Pin: "P1", SafeOn: true}}},
		board.Options{Pins: brokenPins{boardtest.NewPins(nil)}})
	if !errors.Is(err, errWire) {
		t.Fatalf("New = %v, want the pin's error", err)
	}
}

// noEdgePin is a pin without edge detection (a GPIO expander without an
// interrupt line): In with an edge fails.
type noEdgePin struct{ *boardtest.Pin }

func (p noEdgePin) In(pull gpio.Pull, edge gpio.Edge) error {
	if edge != gpio.NoEdge {
		return errors.New("no IRQ for this line")
	}
	return p.Pin.In(pull, edge)
}

type noEdgePins struct{ *boardtest.Pins }

func (ps noEdgePins) Pin(name string) (gpio.PinIO, error) { return noEdgePin{ps.Get(name)}, nil }

func TestInputWithoutEdgesIsPolled(t *testing.T) {
	clock := boardtest.NewClock(boardtest.Epoch)
	sim := boardtest.NewPins(clock)
	b, err := board.New(board.Spec{Inputs: []board.InputSpec{{Name: "door", Pin: "X1", Debounce: 30 * time.Millisecond}}},
		board.Options{Pins: noEdgePins{sim}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ch := b.Watch(context.Background())
	sim.Set("X1", true) // no edge is delivered: only a poll can see it
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.AwaitTimers(ctx, 1); err != nil { // a poll saw it: debounce armed
		t.Fatal(err)
	}
	clock.Advance(30 * time.Millisecond)
	if e := nextEdge(t, ch); !e.Active || !e.Time.Equal(boardtest.Epoch) {
		t.Fatalf("edge = %+v", e)
	}
}
