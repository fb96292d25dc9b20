package board

import (
	"context"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// MaxPulse is the longest pulse Relay.Pulse accepts.
const MaxPulse = 24 * time.Hour

// Relay is one relay output. It is active when out of its safe state: a
// pulse or a hold makes it active, the end of the pulse, Release, Halt and
// Close make it safe again.
type Relay struct {
	b    *Board
	spec RelaySpec
	pin  gpio.PinOut

	mu     sync.Mutex
	active bool
	driven bool // the pin has been written at least once
	held   bool
	until  time.Time // end of the running pulse; zero when none runs
	timer  Timer
	gen    uint64        // bumped by every pulse, release and halt
	idle   chan struct{} // closed while the relay is safe
}

// RelayState is a snapshot of a relay.
type RelayState struct {
	// Active reports whether the relay is out of its safe state.
	Active bool
	// Energised reports whether the coil is energised (Active for a
	// safe-off relay, !Active for a safe-on one).
	Energised bool
	// Held reports a Hold not yet released.
	Held bool
	// Until is when the running pulse ends; zero when no pulse runs.
	Until time.Time
}

func newRelay(b *Board, spec RelaySpec, pin gpio.PinOut) *Relay {
	idle := make(chan struct{})
	close(idle)
	return &Relay{b: b, spec: spec, pin: pin, idle: idle}
}

// Name returns the relay's name.
func (r *Relay) Name() string { return r.spec.Name }

// Pulse makes the relay active for d and returns at once; the relay goes
// back to its safe state d later on the board's clock (Wait blocks until
// then). A pulse shorter than the relay's minimum is refused with
// ErrPulseTooShort, one longer than MaxPulse with ErrPulseTooLong.
//
// A pulse while another runs extends it: the relay stays active until the
// later of the two ends, so a second grant never cuts the first short. A
// pulse during a Hold keeps the relay active after the pulse only while the
// hold lasts.
//
// ctx is checked once: a pulse is refused when ctx is already done. Once
// started, the pulse runs its full length whatever happens to ctx (a
// cancelled tap must not slam an arm on someone); Halt, Release and Close
// end it early.
func (r *Relay) Pulse(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("board: relay %q: pulse: %w", r.spec.Name, err)
	}
	if d <= 0 || d < r.spec.MinPulse {
		return fmt.Errorf("board: relay %q: pulse of %s, minimum %s: %w", r.spec.Name, d, r.spec.MinPulse, ErrPulseTooShort)
	}
	if d > MaxPulse {
		return fmt.Errorf("board: relay %q: pulse of %s: %w", r.spec.Name, d, ErrPulseTooLong)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b.isClosed() {
		return fmt.Errorf("board: relay %q: pulse: %w", r.spec.Name, ErrClosed)
	}
	now := r.b.clock.Now()
	end := now.Add(d)
	if !r.until.IsZero() && r.until.After(end) {
		end = r.until
	}
	if err := r.drive(true, false); err != nil {
		return err
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.gen++
	gen := r.gen
	r.until = end
	r.timer = r.b.clock.AfterFunc(end.Sub(now), func() { r.expire(gen) })
	r.b.log.Debug("board: relay pulse", "relay", r.spec.Name, "for", d, "until", end)
	return nil
}

// expire ends the pulse of generation gen, unless a later call superseded it.
func (r *Relay) expire(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	r.until = time.Time{}
	r.timer = nil
	if r.held {
		return
	}
	if err := r.drive(false, false); err != nil {
		r.b.log.Error("board: relay did not return to its safe state after a pulse", "relay", r.spec.Name, "err", err)
	}
}

// Hold makes the relay active until Release, Halt or Close (a door held
// open by a fire alarm, a technician's test).
func (r *Relay) Hold() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b.isClosed() {
		return fmt.Errorf("board: relay %q: hold: %w", r.spec.Name, ErrClosed)
	}
	if err := r.drive(true, false); err != nil {
		return err
	}
	r.held = true
	r.b.log.Info("board: relay held", "relay", r.spec.Name)
	return nil
}

// Release ends a hold and any running pulse: the relay goes to its safe
// state now. It works on a closed board too.
func (r *Relay) Release() error {
	return r.safe("release")
}

// Halt returns the relay to its configured safe state, ending pulses and
// holds. The relay stays usable.
func (r *Relay) Halt() error {
	return r.safe("halt")
}

func (r *Relay) safe(why string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.gen++
	r.until = time.Time{}
	r.held = false
	// Always write: a halt re-asserts the safe level even if we think the
	// pin already has it.
	if err := r.drive(false, true); err != nil {
		return fmt.Errorf("board: relay %q: %s: %w", r.spec.Name, why, err)
	}
	return nil
}

// State returns a snapshot of the relay.
func (r *Relay) State() RelayState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RelayState{
		Active:    r.active,
		Energised: r.active != r.spec.SafeOn,
		Held:      r.held,
		Until:     r.until,
	}
}

// Wait blocks until the relay is in its safe state (the running pulse ended,
// a hold was released) or ctx is done.
func (r *Relay) Wait(ctx context.Context) error {
	r.mu.Lock()
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("board: relay %q: wait: %w", r.spec.Name, ctx.Err())
	}
}

// drive writes the pin for active (true) or safe (false); it skips a write
// that would not change the level unless force is set. r.mu is held.
func (r *Relay) drive(active, force bool) error {
	if active == r.active && r.driven && !force {
		return nil
	}
	energised := active != r.spec.SafeOn
	level := gpio.Level(energised != r.spec.ActiveLow)
	if err := r.pin.Out(level); err != nil {
		return fmt.Errorf("board: relay %q: pin %s: out %s: %w", r.spec.Name, r.spec.Pin, level, err)
	}
	r.driven = true
	if active != r.active {
		if active {
			r.idle = make(chan struct{})
		} else {
			close(r.idle)
		}
		r.active = active
		r.b.log.Debug("board: relay", "relay", r.spec.Name, "active", active, "energised", energised)
	}
	return nil
}
