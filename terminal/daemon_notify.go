package terminal

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Notifier is the process's supervisor as the daemon tells it how it is:
// sdnotify.Conn for systemd (Type=notify, WatchdogSec=), sdnotify.Device
// for a board's /dev/watchdog without systemd.
type Notifier interface {
	// Ready: the store is open and the readers run.
	Ready() error
	// Status is a one-line state for the technician (systemctl status).
	Status(line string) error
	// Watchdog pets the watchdog; the daemon calls it only while healthy.
	Watchdog() error
	// Stopping: a clean stop began (a watchdog device is disarmed).
	Stopping() error
	// WatchdogInterval is how often to pet (0: no watchdog).
	WatchdogInterval() time.Duration
}

// Bounds of the daemon's health, the rule it pets the watchdog by.
var (
	// TapStuckAfter: the tap loop that has not answered a heartbeat for
	// longer is stuck (a card or reader command that never returns). It
	// is longer than a tap can legitimately take: a PIN typed at the
	// keypad, a claim at the ledger.
	TapStuckAfter = 60 * time.Second
	// StoreProbeEvery is how often the store is asked to accept a write
	// (offline.Store.Probe): the daemon is healthy only while the last
	// probe succeeded.
	StoreProbeEvery = time.Minute
)

// statusEvery is how often STATUS= is refreshed when there is no watchdog.
const statusEvery = 10 * time.Second

// supervision is the supervisor loop's state.
type supervision struct {
	n        Notifier
	every    time.Duration
	lastBeat time.Time // the tap loop's last answer (monotonic)
	probed   time.Time // the store's last successful probe
	probeErr error
}

// startSupervisor tells the Notifier the daemon is ready and starts the
// loop that pets the watchdog while the daemon is healthy. It is called
// once the store is open and the readers run, before the tap loop starts.
// The returned stop ends the loop and, for a clean stop, says STOPPING.
func (d *Daemon) startSupervisor(ctx context.Context) (stop func(clean bool)) {
	n := d.deps.Notifier
	if n == nil {
		return func(bool) {}
	}
	d.beats = make(chan chan struct{})
	s := &supervision{n: n, every: n.WatchdogInterval(), lastBeat: time.Now()}
	if s.every <= 0 {
		s.every = statusEvery
	}
	if err := n.Ready(); err != nil {
		d.log.Warn("yktd: supervisor: ready not delivered", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.supervise(ctx, s)
	}()
	return func(clean bool) {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Second): // a probe blocked on a hung disk
		}
		if !clean {
			return // a fault: a watchdog device stays armed
		}
		if err := n.Stopping(); err != nil {
			d.log.Warn("yktd: supervisor: stopping not delivered", "err", err)
		}
	}
}

// supervise checks the daemon's health every interval and pets the
// watchdog only while it is healthy; it refreshes STATUS= each round.
func (d *Daemon) supervise(ctx context.Context, s *supervision) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	wasHealthy := true
	for {
		problem := d.checkHealth(ctx, s)
		if ctx.Err() != nil {
			return
		}
		if problem == "" && s.n.WatchdogInterval() > 0 {
			if err := s.n.Watchdog(); err != nil {
				d.log.Warn("yktd: supervisor: watchdog not pet", "err", err)
			}
		}
		if problem != "" && wasHealthy {
			d.log.Error("yktd: unhealthy: the watchdog is no longer pet", "problem", problem)
		} else if problem == "" && !wasHealthy {
			d.log.Info("yktd: healthy again: the watchdog is pet")
		}
		wasHealthy = problem == ""
		if err := s.n.Status(d.statusLine(problem)); err != nil {
			d.log.Debug("yktd: supervisor: status not delivered", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkHealth returns "" when the daemon is healthy, else what is wrong:
// the tap loop answered a heartbeat within TapStuckAfter and the store
// accepted a write within StoreProbeEvery.
func (d *Daemon) checkHealth(ctx context.Context, s *supervision) string {
	if d.heartbeat(ctx, s.every/2) {
		s.lastBeat = time.Now()
	}
	if time.Since(s.probed) >= StoreProbeEvery || s.probeErr != nil {
		s.probeErr = d.deps.Store.Probe()
		if s.probeErr == nil {
			s.probed = time.Now()
		}
	}
	var problems []string
	if stuck := time.Since(s.lastBeat); stuck > TapStuckAfter {
		problems = append(problems, fmt.Sprintf("tap loop stuck for %s", stuck.Round(time.Second)))
	}
	if s.probeErr != nil {
		problems = append(problems, fmt.Sprintf("store refuses writes (%v)", s.probeErr))
	}
	return strings.Join(problems, ", ")
}

// heartbeat asks the tap loop (dispatch) to answer within wait.
func (d *Daemon) heartbeat(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	ack := make(chan struct{})
	select {
	case d.beats <- ack:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-ack:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// statusLine is the one line `systemctl status` shows: the device, its
// health, its holds and its last contact with the ledger.
func (d *Daemon) statusLine(problem string) string {
	now := d.deps.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", d.cfg.Device.Kind, d.cfg.Device.ID)
	if problem != "" {
		fmt.Fprintf(&b, "UNHEALTHY (%s)", problem)
	} else {
		b.WriteString("healthy")
	}
	var codes []string
	for _, h := range d.holds.Active(now) {
		codes = append(codes, string(h.Code))
	}
	if len(codes) == 0 {
		b.WriteString("; holds: none")
	} else {
		fmt.Fprintf(&b, "; holds: %s", strings.Join(codes, ","))
	}
	switch last := d.holds.State().LastContact; {
	case d.deps.Sync == nil:
		b.WriteString("; sync: off")
	case last.IsZero():
		b.WriteString("; last sync: never")
	default:
		fmt.Fprintf(&b, "; last sync: %s (%s ago)", last.In(d.loc).Format("2006-01-02 15:04:05"),
			now.Sub(last).Round(time.Second))
	}
	return b.String()
}
