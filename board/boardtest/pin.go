package boardtest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// Pin is a simulated GPIO pin (a gpio.PinIO). Outputs are recorded by the
// Pins that made it; inputs are driven with Set. Edges are handed to
// WaitForEdge synchronously: Set returns only after the waiter has taken
// the edge and come back to wait for the next one, so a test that calls Set
// and then advances the fake clock sees the board react in that order.
type Pin struct {
	name  string
	num   int
	owner *Pins

	mu     sync.Mutex
	level  gpio.Level
	pull   gpio.Pull
	edge   gpio.Edge
	driven bool
	halt   chan struct{}      // closed by Halt; replaced by In
	edges  chan chan struct{} // an edge handed to WaitForEdge, with its ack
	ack    chan struct{}      // the ack of the last edge taken, closed on the next wait
}

var _ gpio.PinIO = (*Pin)(nil)

func newPin(owner *Pins, name string, num int) *Pin {
	return &Pin{name: name, num: num, owner: owner, halt: make(chan struct{}), edges: make(chan chan struct{})}
}

// String implements conn.Resource.
func (p *Pin) String() string { return fmt.Sprintf("%s(sim)", p.name) }

// Halt implements conn.Resource: it wakes a WaitForEdge in progress and
// stops edge delivery until the pin is configured again with In.
func (p *Pin) Halt() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.halt:
	default:
		close(p.halt)
	}
	if p.ack != nil {
		close(p.ack)
		p.ack = nil
	}
	return nil
}

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.num }

// Function implements pin.Pin.
func (p *Pin) Function() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.edge != gpio.NoEdge || !p.driven {
		return "In/" + p.level.String()
	}
	return "Out/" + p.level.String()
}

// In implements gpio.PinIn. A pull sets the level of a pin nobody drove.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pull, p.edge = pull, edge
	switch pull {
	case gpio.PullUp:
		p.level = gpio.High
	case gpio.PullDown:
		p.level = gpio.Low
	}
	select {
	case <-p.halt:
		p.halt = make(chan struct{})
	default:
	}
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn: it returns true when Set changed the
// level in a configured direction, false after timeout (a negative timeout
// waits for ever) or on Halt. Like periph's gpioioctl it returns false at
// once for a pin not configured for edges.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	if p.ack != nil {
		close(p.ack) // the previous edge was handled: let its Set return
		p.ack = nil
	}
	halt, edge := p.halt, p.edge
	p.mu.Unlock()
	if edge == gpio.NoEdge {
		return false
	}
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case ack := <-p.edges:
		p.mu.Lock()
		p.ack = ack
		p.mu.Unlock()
		return true
	case <-halt:
		return false
	case <-expired:
		return false
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

// Out implements gpio.PinOut; Pins records the change.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.driven || l != p.level {
		p.owner.record(p.name, l)
	}
	p.level, p.driven, p.edge = l, true, gpio.NoEdge
	return nil
}

// PWM implements gpio.PinOut; the simulated pins have no PWM.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("boardtest: PWM not supported")
}

// Set drives the pin's level from outside, as a sensor would. When the pin
// waits for edges and the change matches the configured edge, Set returns
// once the waiter has taken the edge and handled it (or the pin is halted).
func (p *Pin) Set(l gpio.Level) {
	p.mu.Lock()
	if l == p.level {
		p.mu.Unlock()
		return
	}
	p.level = l
	deliver := p.edge == gpio.BothEdges ||
		(p.edge == gpio.RisingEdge && l == gpio.High) ||
		(p.edge == gpio.FallingEdge && l == gpio.Low)
	halt := p.halt
	p.mu.Unlock()
	if !deliver {
		return
	}
	ack := make(chan struct{})
	select {
	case p.edges <- ack:
	case <-halt:
		return
	}
	select {
	case <-ack:
	case <-halt:
	}
}

var _ pin.PinFunc = (*Pin)(nil)

// Func implements pin.PinFunc: gpio.IN or gpio.OUT.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.driven && p.edge == gpio.NoEdge {
		return gpio.OUT
	}
	return gpio.IN
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc; the simulated pins change function only
// through In and Out.
func (p *Pin) SetFunc(pin.Func) error { return errors.New("boardtest: SetFunc not supported") }
