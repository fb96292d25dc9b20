package board_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
)

func TestSpecRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec board.Spec
	}{
		{"no name", board.Spec{Relays: []board.RelaySpec{{Pin: "P1"}}}},
		{"no pin", board.Spec{Relays: []board.RelaySpec{{Name: "in"}}}},
		{"name twice", board.Spec{
			Relays: []board.RelaySpec{{Name: "in", Pin: "P1"}},
			Inputs: []board.InputSpec{{Name: "in", Pin: "P2"}},
		}},
		{"pin twice", board.Spec{
			Relays:     []board.RelaySpec{{Name: "in", Pin: "P1"}},
			Indicators: []board.IndicatorSpec{{Name: "led", Pin: "P1"}},
		}},
		{"negative min pulse", board.Spec{Relays: []board.RelaySpec{{Name: "in", Pin: "P1", MinPulse: -1}}}},
		{"negative debounce", board.Spec{Inputs: []board.InputSpec{{Name: "a", Pin: "P1", Debounce: -time.Millisecond}}}},
		{"bad pull", board.Spec{Inputs: []board.InputSpec{{Name: "a", Pin: "P1", Pull: 7}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := board.New(tc.spec, board.Options{Pins: boardtest.NewPins(nil)})
			if !errors.Is(err, board.ErrBadSpec) {
				t.Fatalf("New = %v, want ErrBadSpec", err)
			}
		})
	}
	if _, err := board.New(board.Spec{}, board.Options{}); !errors.Is(err, board.ErrBadSpec) {
		t.Errorf("New without Pins = %v, want ErrBadSpec", err)
	}
}

func TestNamesAndUnknown(t *testing.T) {
	f := newFake(t, board.Spec{
		Relays:     []board.RelaySpec{{Name: "out"}, {Name: "in"}},
		Inputs:     []board.InputSpec{{Name: "fire"}},
		Indicators: []board.IndicatorSpec{{Name: "buzzer"}},
	})
	want := board.Names{Relays: []string{"out", "in"}, Inputs: []string{"fire"}, Indicators: []string{"buzzer"}}
	if got := f.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %+v, want %+v", got, want)
	}
	if _, err := f.Relay("fire"); !errors.Is(err, board.ErrUnknown) {
		t.Errorf("Relay(fire) = %v, want ErrUnknown", err)
	}
	if _, err := f.Input("in"); !errors.Is(err, board.ErrUnknown) {
		t.Errorf("Input(in) = %v, want ErrUnknown", err)
	}
	if _, err := f.Indicator("red"); !errors.Is(err, board.ErrUnknown) {
		t.Errorf("Indicator(red) = %v, want ErrUnknown", err)
	}
	if err := f.SetInput("nope", true); !errors.Is(err, board.ErrUnknown) {
		t.Errorf("SetInput(nope) = %v, want ErrUnknown", err)
	}
}

func TestMissingPinRefusesTheBoard(t *testing.T) {
	pins := boardtest.NewPins(nil)
	pins.Remove("GPIO27")
	_, err := board.New(board.Spec{
		Relays: []board.RelaySpec{{Name: "in", Pin: "GPIO17"}, {Name: "out", Pin: "GPIO27"}},
	}, board.Options{Pins: pins})
	var pe *board.PinError
	if !errors.As(err, &pe) || pe.Pin != "GPIO27" {
		t.Fatalf("New = %v, want a *PinError for GPIO27", err)
	}
	if len(pins.Changes()) != 0 {
		t.Errorf("a refused board drove pins: %v", pins.Changes())
	}
}
