package board_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

// registerSimPins puts simulated pins into periph's registry, where
// PeriphPins looks pins up, as a board driver would.
func registerSimPins(t *testing.T, pins *boardtest.Pins, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := gpioreg.Register(pins.Get(n)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gpioreg.Unregister(n) })
	}
}

func TestPeriphBackend(t *testing.T) {
	clock := boardtest.NewClock(boardtest.Epoch)
	sim := boardtest.NewPins(clock)
	registerSimPins(t, sim, "YKT_TEST_RELAY", "YKT_TEST_SENSOR")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	pins, err := board.PeriphPins(log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "periph.io drivers loaded") {
		t.Errorf("driver state not logged: %s", logs.String())
	}
	b, err := board.New(board.Spec{
		Relays: []board.RelaySpec{{Name: "in", Pin: "YKT_TEST_RELAY", ActiveLow: true}},
		Inputs: []board.InputSpec{{Name: "passage", Pin: "YKT_TEST_SENSOR", Debounce: 10 * time.Millisecond}},
	}, board.Options{Pins: pins, Clock: clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, _ := b.Relay("in")
	if err := r.Pulse(context.Background(), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	clock.Advance(300 * time.Millisecond)
	if got := trace(sim.ChangesOf("YKT_TEST_RELAY")); got != "H@0s L@0s H@300ms" {
		t.Errorf("relay pin through gpioreg: %q", got)
	}
	ch := b.Watch(context.Background())
	sim.Set("YKT_TEST_SENSOR", true)
	clock.Advance(10 * time.Millisecond)
	if e := nextEdge(t, ch); !e.Active || e.Input != "passage" {
		t.Errorf("edge through gpioreg: %+v", e)
	}
}

func TestPeriphMissingPin(t *testing.T) {
	sim := boardtest.NewPins(nil)
	registerSimPins(t, sim, "YKT_TEST_PRESENT")
	pins, err := board.PeriphPins(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = board.New(board.Spec{
		Relays: []board.RelaySpec{
			{Name: "in", Pin: "YKT_TEST_PRESENT"},
			{Name: "out", Pin: "YKT_TEST_ABSENT"},
		},
	}, board.Options{Pins: pins})
	var pe *board.PinError
	if !errors.As(err, &pe) || pe.Pin != "YKT_TEST_ABSENT" {
		t.Fatalf("New = %v, want a *PinError for YKT_TEST_ABSENT", err)
	}
	for _, want := range []string{`relay "out"`, `pin "YKT_TEST_ABSENT"`, "periph.io/x/host >= 3.8.3", "Linux kernel >= 5.10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(sim.ChangesOf("YKT_TEST_PRESENT")) != 0 {
		t.Error("a refused board drove a pin")
	}
}

func TestPeriphPinList(t *testing.T) {
	sim := boardtest.NewPins(nil)
	registerSimPins(t, sim, "YKT_TEST_LISTED")
	list, err := board.PeriphPinList(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if p.Name == "YKT_TEST_LISTED" {
			if p.Function == "" {
				t.Errorf("listed pin without a function: %+v", p)
			}
			return
		}
	}
	t.Fatalf("registered pin not listed: %+v", list)
}
