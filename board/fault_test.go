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
