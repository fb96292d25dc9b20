package wiegandtest

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
)

func TestPinEdges(t *testing.T) {
	p := NewPin("GPIO5", 5)
	if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		t.Fatal(err)
	}
	got := make(chan bool, 4)
	go func() {
		got <- p.WaitForEdge(-1) // the rising edge is skipped, the falling one reported
		got <- p.WaitForEdge(time.Millisecond)
	}()
	p.EdgesChan <- gpio.High
	p.EdgesChan <- gpio.Low
	if !<-got {
		t.Error("falling edge not reported")
	}
	if <-got {
		t.Error("edge reported without one sent")
	}
	if p.Read() != gpio.Low {
		t.Errorf("level %s after a falling edge", p.Read())
	}
}

func TestPinInWakesWaiter(t *testing.T) {
	p := NewPin("GPIO6", 6)
	if err := p.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	woke := make(chan bool, 1)
	go func() { woke <- p.WaitForEdge(-1) }()
	// In while waiting makes WaitForEdge return false; loop until the
	// waiter is certainly inside (an In before it started does nothing).
	for {
		if err := p.In(gpio.PullUp, gpio.NoEdge); err != nil {
			t.Fatal(err)
		}
		select {
		case ok := <-woke:
			if ok {
				t.Error("WaitForEdge = true after In")
			}
			if p.Ins() < 2 || p.Edge() != gpio.NoEdge {
				t.Errorf("ins %d edge %s", p.Ins(), p.Edge())
			}
			return
		case <-time.After(time.Millisecond):
		}
	}
}
