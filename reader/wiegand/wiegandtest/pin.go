// Package wiegandtest fakes the GPIO inputs of a Wiegand reader for tests:
// Pin is a periph gpio.PinIn whose edges the test sends, in the manner of
// periph's gpiotest.Pin (which this module cannot use: its clock
// dependency is not in go.sum), and Send clocks a whole frame into a D0/D1
// pair.
package wiegandtest

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Pin is a fake input pin. A test sends levels on EdgesChan: a Low is a
// falling edge, a High a rising one; WaitForEdge reports the edges of the
// kind In asked for and consumes the others silently, as a kernel driver
// does. Like a real pin, In called while another goroutine waits in
// WaitForEdge makes that call return false.
type Pin struct {
	N         string          // pin name, e.g. "GPIO17"
	Num       int             // pin number
	EdgesChan chan gpio.Level // edges the test sends; unbuffered: a send completes when WaitForEdge takes it

	mu    sync.Mutex
	pull  gpio.Pull
	edge  gpio.Edge
	level gpio.Level
	reset chan struct{}
	ins   int
	err   error
}

// NewPin returns a pin named name with an unbuffered EdgesChan, idle high.
func NewPin(name string, num int) *Pin {
	return &Pin{N: name, Num: num, EdgesChan: make(chan gpio.Level), level: gpio.High, reset: make(chan struct{})}
}

// String implements conn.Resource.
func (p *Pin) String() string { return fmt.Sprintf("%s(%d)", p.N, p.Num) }

// Halt implements conn.Resource; it stops edge detection like In(NoEdge).
func (p *Pin) Halt() error { return p.In(gpio.PullNoChange, gpio.NoEdge) }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.N }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.Num }

// Function implements pin.Pin.
func (p *Pin) Function() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.edge == gpio.NoEdge {
		return "In/" + p.level.String()
	}
	return "In/" + p.level.String() + "/" + p.edge.String()
}

// FailIn makes the following In calls return err (nil: succeed again),
// as a pin another process holds would.
func (p *Pin) FailIn(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// In implements gpio.PinIn: it records the pull and edge and wakes a
// pending WaitForEdge.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	p.ins++
	close(p.reset)
	p.reset = make(chan struct{})
	return nil
}

// Ins returns how many times In succeeded.
func (p *Pin) Ins() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ins
}

// Edge returns the edge kind of the last In.
func (p *Pin) Edge() gpio.Edge {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.edge
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn. A negative timeout waits forever.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	reset, want := p.reset, p.edge
	p.mu.Unlock()
	var expire <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	for {
		var edges chan gpio.Level
		if want != gpio.NoEdge {
			edges = p.EdgesChan
		}
		select {
		case l := <-edges:
			p.mu.Lock()
			p.level = l
			p.mu.Unlock()
			if want == gpio.BothEdges || (l == gpio.Low) == (want == gpio.FallingEdge) {
				return true
			}
		case <-expire:
			return false
		case <-reset:
			return false
		}
	}
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Pulse sends one falling edge followed by the rising edge that ends the
// pulse, as a Wiegand reader's active-low pulse. It returns false when the
// pin did not take them before timeout (nobody is waiting on it).
func (p *Pin) Pulse(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for _, l := range []gpio.Level{gpio.Low, gpio.High} {
		select {
		case p.EdgesChan <- l:
		case <-t.C:
			return false
		}
	}
	return true
}
