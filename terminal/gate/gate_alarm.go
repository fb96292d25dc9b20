package gate

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Alarm reasons journaled as KindAlarm records.
const (
	AlarmFireOn     = "fire-alarm-on"  // fire input active: every lane released
	AlarmFireOff    = "fire-alarm-off" // fire input back to normal: lanes to their safe state
	AlarmForcedOpen = "forced-open"    // door contact opened with no pass granted
	AlarmHeldOpen   = "held-open"      // door contact open longer than gate.held_open
	AlarmTamper     = "tamper"         // tamper input active
)

// Run watches the gate's inputs until ctx ends: it hands passage edges to
// the pass waiting for them, releases every lane while the fire alarm is
// active (fail-safe) and journals the alarms. At start it applies the fire
// input's current level. It returns nil when ctx ends, or the first
// journal error (an alarm that cannot be recorded is a terminal fault).
func (g *Gate) Run(ctx context.Context) error {
	edges := g.opts.Board.Watch(ctx)
	// The fire input's level now, after subscribing: an edge before the
	// subscription is not lost.
	if g.cfg.FireAlarm != "" {
		if in, err := g.opts.Board.Input(g.cfg.FireAlarm); err == nil && in.Active() {
			if err := g.fire(ctx, true); err != nil {
				return err
			}
		}
	}
	g.readyOnce.Do(func() { close(g.ready) })
	var heldOpen <-chan struct{}
	var stopHeld context.CancelFunc
	defer func() {
		if stopHeld != nil {
			stopHeld()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heldOpen:
			heldOpen = nil
			if err := g.alarm(AlarmHeldOpen); err != nil {
				return err
			}
		case e, ok := <-edges:
			if !ok {
				return nil
			}
			switch e.Input {
			case g.cfg.FireAlarm:
				if err := g.fire(ctx, e.Active); err != nil {
					return err
				}
			case g.cfg.Tamper:
				if e.Active {
					if err := g.alarm(AlarmTamper); err != nil {
						return err
					}
				}
			case g.cfg.DoorContact:
				if stopHeld != nil {
					stopHeld()
					stopHeld, heldOpen = nil, nil
				}
				if !e.Active {
					continue
				}
				g.mu.Lock()
				expected := g.granted || g.emergency
				g.mu.Unlock()
				if !expected {
					if err := g.alarm(AlarmForcedOpen); err != nil {
						return err
					}
				}
				heldOpen, stopHeld = g.timer(ctx)
			case g.cfg.PassageIn, g.cfg.PassageOut:
				g.mu.Lock()
				w := g.waiting
				g.mu.Unlock()
				if w != nil {
					select {
					case w <- e:
					default:
					}
				}
			}
		}
	}
}

// Ready is closed once Run watches the inputs.
func (g *Gate) Ready() <-chan struct{} { return g.ready }

// timer fires once after the held-open time unless stopped.
func (g *Gate) timer(ctx context.Context) (<-chan struct{}, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan struct{})
	t := g.after(g.cfg.HeldOpen.D())
	go func() {
		select {
		case <-t:
			close(out)
		case <-ctx.Done():
		}
	}()
	return out, cancel
}

// fire releases (active) or restores (inactive) every lane and journals it.
func (g *Gate) fire(ctx context.Context, active bool) error {
	g.mu.Lock()
	g.emergency = active
	g.mu.Unlock()
	var errs []error
	for _, name := range []string{g.cfg.RelayIn, g.cfg.RelayOut} {
		if name == "" {
			continue
		}
		r, err := g.opts.Board.Relay(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if active {
			errs = append(errs, r.Hold())
		} else {
			errs = append(errs, r.Release())
		}
	}
	reason := AlarmFireOff
	msg := ui.Idle()
	if active {
		reason, msg = AlarmFireOn, policyMessage(policy.CodeEmergency, policy.CodeEmergency.Message())
	}
	_ = g.opts.Display.Show(ctx, msg)
	if err := errors.Join(errs...); err != nil {
		g.log.Error("gate: fire alarm: relays", "active", active, "err", err)
	}
	return g.alarm(reason)
}

func (g *Gate) alarm(reason string) error {
	g.log.Warn("gate: alarm", "alarm", reason, "door", g.cfg.Door)
	if _, err := g.opts.Store.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: reason}); err != nil {
		return fmt.Errorf("gate: journal alarm %s: %w", reason, err)
	}
	return nil
}
