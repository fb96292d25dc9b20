package rig

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// act performs a step's action.
func (r *scenarioRun) act(ctx context.Context, s *Step) error {
	at := r.devices[s.At]
	if at != nil {
		switch s.Action() {
		case "tap", "fault", "clear_faults", "keys", "input", "clock", "control", "kiosk":
			at.mark()
		}
	}
	switch s.Action() {
	case "":
		return nil
	case "tap":
		return r.tap(ctx, at, s.Tap, s.Reader)
	case "remove":
		d := r.devices[s.Remove]
		d.mark()
		return r.remove(ctx, d, s.Reader)
	case "fault":
		return r.fault(ctx, at, s.Fault)
	case "clear_faults":
		if err := r.fresh(ctx, at, s.ClearFaults); err != nil {
			return err
		}
		return at.cardCtl.Delete(ctx, "/sim/cards/"+s.ClearFaults+"/faults")
	case "keys":
		if err := at.need(); err != nil {
			return err
		}
		if _, err := io.WriteString(at.proc.stdin, *s.Keys); err != nil {
			return fmt.Errorf("rig: keys at %s: %w", at.spec.Name, err)
		}
		return nil
	case "input":
		if err := at.need(); err != nil {
			return err
		}
		active := s.Active == nil || *s.Active
		return at.ctl.Post(ctx, "/v1/inputs/"+s.Input, map[string]bool{"active": active}, nil)
	case "clock":
		if s.At == "ledger" {
			return r.ledgerClock(ctx, s.Clock)
		}
		if err := at.need(); err != nil {
			return err
		}
		d, _ := parseStep(s.Clock)
		var out struct {
			Now    time.Time `json:"now"`
			Offset string    `json:"offset"`
		}
		if err := at.ctl.Post(ctx, "/sim/clock", map[string]string{"step": d.String()}, &out); err != nil {
			return err
		}
		r.tl.add("info", "%s's clock now %s (offset %s)", at.spec.Name, out.Now.In(campusZone).Format(time.RFC3339), out.Offset)
		return nil
	case "kill", "stop", "start", "restart":
		return r.process(ctx, s)
	case "cut":
		d := r.devices[s.Cut]
		d.proxy.cut(orDefault(s.CutMode, netDrop))
		return nil
	case "heal":
		r.devices[s.Heal].proxy.heal()
		return nil
	case "ledgerd":
		return r.ledgerd(ctx, s)
	case "control":
		return r.control(ctx, at, s)
	case "kiosk":
		return r.kiosk(ctx, at, s)
	case "pause":
		t := time.NewTimer(s.Pause.D())
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("rig: action %s not implemented", s.Action())
}

// ledgerClock steps the ledger's clock: ledgerd serve has no clock to
// step while it runs, so a running ledger is stopped and started again
// with the new --clock-offset (a stopped one takes it at its next start).
func (r *scenarioRun) ledgerClock(ctx context.Context, step string) error {
	d, _ := parseStep(step)
	l := r.ledger
	l.offset += d
	if l.proc == nil || !l.proc.running() {
		r.tl.add("info", "ledger's clock offset %s from its next start", l.offset)
		return nil
	}
	l.proc.signal(syscall.SIGTERM)
	if err := l.proc.wait(ctx, 30*time.Second); err != nil {
		return err
	}
	if err := l.start(ctx); err != nil {
		return err
	}
	r.tl.add("info", "ledger's clock now %s (offset %s; serving again on %s)", time.Now().Add(l.offset).In(campusZone).Format(time.RFC3339), l.offset, l.addr)
	return nil
}

// fresh makes sure device d holds the card's latest state: the card was
// used at another device since d loaded it, so d reads its file again.
func (r *scenarioRun) fresh(ctx context.Context, d *device, card string) error {
	if err := d.need(); err != nil {
		return err
	}
	if d.loaded[card] == r.versions[card] {
		return nil
	}
	// Wherever it is now, it leaves that field first.
	for _, o := range r.order {
		if o != d && o.inField == card {
			if err := r.remove(ctx, o, ""); err != nil {
				return err
			}
		}
	}
	if err := d.cardCtl.Post(ctx, "/sim/cards/"+card+"/reload", nil, nil); err != nil {
		return fmt.Errorf("rig: %s: reload card %s: %w", d.spec.Name, card, err)
	}
	d.loaded[card] = r.versions[card]
	r.tl.add("info", "%s reloaded card %s (used elsewhere since)", d.spec.Name, card)
	return nil
}

// tap puts a card into the field of d's reader: taken out of any other
// device's field first, read afresh where another device changed it.
func (r *scenarioRun) tap(ctx context.Context, d *device, card, rdr string) error {
	name, err := d.reader(rdr)
	if err != nil {
		return err
	}
	if err := d.need(); err != nil {
		return err
	}
	for _, o := range r.order {
		if o != d && o.inField == card {
			if err := r.remove(ctx, o, ""); err != nil {
				return err
			}
			r.tl.add("info", "%s taken from %s's reader first", card, o.spec.Name)
		}
	}
	if err := r.fresh(ctx, d, card); err != nil {
		return err
	}
	if err := d.cardCtl.Post(ctx, "/sim/readers/"+name+"/tap", map[string]string{"card": card}, nil); err != nil {
		return err
	}
	// The device may change the card from now on: elsewhere it is stale.
	r.versions[card]++
	d.loaded[card] = r.versions[card]
	d.inField = card
	return nil
}

// remove empties the field of d's reader.
func (r *scenarioRun) remove(ctx context.Context, d *device, rdr string) error {
	name, err := d.reader(rdr)
	if err != nil {
		return err
	}
	if !d.running() {
		d.inField = ""
		return nil
	}
	if err := d.need(); err != nil {
		return err
	}
	if err := d.cardCtl.Post(ctx, "/sim/readers/"+name+"/remove", nil, nil); err != nil {
		return err
	}
	d.inField = ""
	return nil
}

// fault arms a fault on a card at d.
func (r *scenarioRun) fault(ctx context.Context, d *device, f *FaultSpec) error {
	if err := r.fresh(ctx, d, f.Card); err != nil {
		return err
	}
	body := map[string]any{"kind": f.Kind, "ins": orDefault(f.INS, "any"), "nth": f.Nth, "repeat": f.Repeat, "keep": f.Keep}
	if f.Delay > 0 {
		body["delay"] = f.Delay.D().String()
	}
	return d.cardCtl.Post(ctx, "/sim/cards/"+f.Card+"/faults", body, nil)
}

// process kills, stops, starts or restarts a device or the ledger.
func (r *scenarioRun) process(ctx context.Context, s *Step) error {
	act := s.Action()
	target := map[string]string{"kill": s.Kill, "stop": s.Stop, "start": s.StartProc, "restart": s.Restart}[act]
	if target == "ledger" {
		l := r.ledger
		switch act {
		case "kill":
			if l.proc == nil || !l.proc.running() {
				return fmt.Errorf("rig: kill the ledger: not running")
			}
			l.proc.signal(syscall.SIGKILL)
			return l.proc.wait(ctx, 30*time.Second)
		case "stop", "restart":
			if l.proc == nil || !l.proc.running() {
				return fmt.Errorf("rig: %s the ledger: not running", act)
			}
			l.proc.signal(syscall.SIGTERM)
			if err := l.proc.wait(ctx, 30*time.Second); err != nil {
				return err
			}
			r.tl.add("info", "ledger stopped: %s", l.proc.exitText())
			if act == "stop" {
				return nil
			}
		}
		if err := l.start(ctx); err != nil {
			return err
		}
		r.tl.add("info", "ledger serving again on %s", l.addr)
		return nil
	}
	d := r.devices[target]
	switch act {
	case "kill":
		if err := d.kill(ctx); err != nil {
			return err
		}
		r.tl.add("info", "%s: %s", d.spec.Name, d.proc.exitText())
		return nil
	case "stop", "restart":
		if err := d.stop(ctx); err != nil {
			return err
		}
		r.tl.add("info", "%s stopped: %s", d.spec.Name, d.proc.exitText())
		if act == "stop" {
			return nil
		}
	}
	return r.startDevice(ctx, d)
}

// ledgerd runs an operator command; one that fails fails the step unless
// the step expects its exit code.
func (r *scenarioRun) ledgerd(ctx context.Context, s *Step) error {
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		var err error
		if args[i], err = r.expand(a); err != nil {
			return err
		}
	}
	out, errOut, code, err := r.ledger.command(ctx, s.Ledgerd, args...)
	if err != nil {
		return err
	}
	r.lastCmd = &cmdResult{stdout: out, stderr: errOut, code: code}
	r.tl.add("info", "ledgerd %s %s: exit %d: %s", s.Ledgerd, strings.Join(args, " "), code, strings.TrimSpace(out+errOut))
	if code != 0 && s.Expect.Exit == nil {
		return fmt.Errorf("rig: ledgerd %s: exit %d: %s", s.Ledgerd, code, strings.TrimSpace(errOut))
	}
	return nil
}

var placeholderRE = regexp.MustCompile(`\{([a-z]+)\.([A-Za-z0-9_-]+)\}`)

// expand replaces the placeholders of s: {card.NAME} (its number),
// {device.NAME} (its id), {token.NAME} (the token issued to it) and
// {ledger.data} (the ledger's data directory).
func (r *scenarioRun) expand(s string) (string, error) {
	var err error
	out := placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		p := placeholderRE.FindStringSubmatch(m)
		what, name := p[1], p[2]
		switch what {
		case "card":
			if no, ok := r.cardNos[name]; ok {
				return no
			}
		case "device":
			if d, ok := r.devices[name]; ok {
				return d.spec.ID
			}
			for _, d := range r.sc.Devices {
				if d.Name == name {
					return d.ID
				}
			}
		case "token":
			if t, ok := r.tokens[name]; ok {
				return t
			}
		case "ledger":
			if name == "data" && r.ledger != nil {
				return r.ledger.dir
			}
		case "session":
			if d, ok := r.devices[name]; ok {
				id, serr := r.kioskSession(d)
				if serr == nil {
					return id
				}
				if err == nil {
					err = serr
				}
				return m
			}
		}
		if err == nil {
			err = fmt.Errorf("rig: placeholder %s: no such %s", m, what)
		}
		return m
	})
	return out, err
}

// expandAny expands the strings inside a decoded TOML value.
func (r *scenarioRun) expandAny(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return r.expand(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ek, err := r.expand(k)
			if err != nil {
				return nil, err
			}
			if out[ek], err = r.expandAny(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = r.expandAny(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = r.expandAny(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}
