package board_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
)

// A turnstile lane on a simulated board: pulse the arm, then see the
// passage sensor's debounced edge. The fake clock makes it exact.
func Example() {
	f, err := boardtest.New(board.Spec{
		Relays: []board.RelaySpec{{Name: "arm_in", ActiveLow: true, MinPulse: 100 * time.Millisecond}},
		Inputs: []board.InputSpec{{Name: "pass_in", Debounce: 20 * time.Millisecond}},
	})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	ctx := context.Background()
	edges := f.Watch(ctx)

	arm, _ := f.Relay("arm_in")
	_ = arm.Pulse(ctx, 300*time.Millisecond)
	f.Clock.Advance(100 * time.Millisecond)
	_ = f.SetInput("pass_in", true) // someone walks through
	f.Clock.Advance(300 * time.Millisecond)

	fmt.Println(<-edges)
	for _, c := range f.Changes("arm_in") {
		fmt.Println(c.Time.Sub(boardtest.Epoch), "high:", c.High)
	}
	// Output:
	// 08:00:00.100 pass_in active
	// 0s high: true
	// 0s high: false
	// 300ms high: true
}
