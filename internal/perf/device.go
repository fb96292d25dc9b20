package perf

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/openykt/yktd/terminal"
)

// Device is one perf POS: `yktd run --config` over its restarts.
type Device struct {
	Spec DeviceSpec
	Bin  string // yktd
	Cfg  string // its configuration file
	Logs string

	Proc *Proc
	Ctl  *terminal.ControlClient
	runs int
}

// runningRE finds the control interface's address in the daemon's
// "yktd: running" log line (log_format text).
var runningRE = regexp.MustCompile(`msg="yktd: running".*\bcontrol=("?)([^\s"]+)`)

// ControlAddr returns the control address of a "yktd: running" line.
func ControlAddr(line string) (string, bool) {
	m := runningRE.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[2], true
}

// Ready is what the readiness of a start waits for: the health says the
// POS takes money.
func Ready(h terminal.Health) bool { return h.Working }

// Start runs the daemon (with --enrol token when token is set) and waits
// until its health satisfies until, polling GET /v1/health every
// millisecond once the control interface is up. It returns the time from
// just before the exec to the first health that did.
func (d *Device) Start(ctx context.Context, token string, until func(terminal.Health) bool, limit time.Duration) (time.Duration, error) {
	if d.Proc != nil && d.Proc.Running() {
		return 0, fmt.Errorf("perf: %s is running already", d.Spec.ID)
	}
	d.runs++
	args := []string{"run", "--config", d.Cfg}
	if token != "" {
		args = append(args, "--enrol", token)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t0 := time.Now()
	p, err := Start(fmt.Sprintf("%s.%d", d.Spec.ID, d.runs), d.Logs, d.Bin, args...)
	if err != nil {
		return 0, err
	}
	d.Proc, d.Ctl = p, nil
	fail := func(what string, err error) (time.Duration, error) {
		if !p.Running() {
			return 0, fmt.Errorf("perf: %s %s: it ended (%s):\n%s", d.Spec.ID, what, p.Exit(), p.Err.Tail(15))
		}
		return 0, fmt.Errorf("perf: %s %s: %w\n%s", d.Spec.ID, what, err, p.Err.Tail(15))
	}
	line, _, err := p.Err.Wait(ctx, 0, func(s string) bool { _, ok := ControlAddr(s); return ok })
	if err != nil {
		return fail("did not log its control address", err)
	}
	addr, _ := ControlAddr(line.Text)
	if d.Ctl, err = terminal.NewControlClient(d.Spec.Dir, addr); err != nil {
		return fail("control client", err)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		var h terminal.Health
		if err := d.Ctl.Get(ctx, "/v1/health", &h); err == nil && until(h) {
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return fail("never became ready", ctx.Err())
		case <-p.Done():
			return fail("never became ready", nil)
		case <-tick.C: // polling the health, bounded by limit
		}
	}
}

// Health reads the running daemon's health.
func (d *Device) Health(ctx context.Context) (terminal.Health, error) {
	var h terminal.Health
	if d.Ctl == nil {
		return h, fmt.Errorf("perf: %s: not started", d.Spec.ID)
	}
	err := d.Ctl.Get(ctx, "/v1/health", &h)
	return h, err
}

// Stop ends the running daemon with SIGTERM and checks it exited 0.
func (d *Device) Stop() error {
	if d.Proc == nil {
		return nil
	}
	err := d.Proc.Stop(30 * time.Second)
	d.Ctl = nil
	return err
}

// Code is the code of a console display header ("== approved ==" →
// "approved"), or "" for any other line.
func Code(line string) string {
	s, ok := strings.CutPrefix(line, "== ")
	if !ok {
		return ""
	}
	s, ok = strings.CutSuffix(s, " ==")
	if !ok || s == "" || strings.Contains(s, " ") {
		return ""
	}
	return s
}
