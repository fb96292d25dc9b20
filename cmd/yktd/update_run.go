package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/update"
)

// trialRun is the trial of this binary in its slots (yktd run
// --update-slots): counted at the start, committed once the daemon is
// healthy, rolled back when it is not within the health timeout.
type trialRun struct {
	sl      *update.Slots
	timeout time.Duration
	log     io.Writer
	cancel  context.CancelFunc

	mu     sync.Mutex
	failed string // the reason of a rollback
}

// beginTrial is the first thing `yktd run` does with --update-slots: it
// counts this start of a binary on trial, or rolls the trial back when its
// starts are spent (then the run ends: the supervisor starts the previous
// slot). It returns nil when no trial concerns this binary.
func beginTrial(ctx context.Context, dir string, timeout time.Duration, log io.Writer) (*trialRun, context.Context, error) {
	if dir == "" {
		return nil, ctx, nil
	}
	sl := &update.Slots{Dir: dir}
	trial, err := sl.Start(version, false)
	if err != nil {
		if errors.Is(err, update.ErrRolledBack) {
			fmt.Fprintf(log, "yktd: update: %v; exiting so that the previous slot starts\n", err)
		}
		return nil, ctx, fmt.Errorf("update trial: %w", err)
	}
	if !trial {
		return nil, ctx, nil
	}
	st, _ := sl.State()
	fmt.Fprintf(log, "yktd: update: trial of %s, start %d of %d; commit once healthy within %s\n",
		version, st.Attempts, st.MaxAttempts, timeout)
	ctx, cancel := context.WithCancel(ctx)
	return &trialRun{sl: sl, timeout: timeout, log: log, cancel: cancel}, ctx, nil
}

// healthProblem is what stops a trial from committing ("" none): the
// journal's chain verified and the store read, every configured reader
// runs, the ledger answered when one is configured.
func healthProblem(h terminal.Health) string {
	var p []string
	if len(h.Errors) > 0 {
		p = append(p, "store: "+strings.Join(h.Errors, "; "))
	}
	if !h.Journal.ChainOK {
		p = append(p, fmt.Sprintf("journal chain broken at %d", h.Journal.BrokenAt))
	}
	if len(h.Readers) == 0 {
		p = append(p, "no reader")
	}
	for _, r := range h.Readers {
		if !r.Up {
			p = append(p, "reader "+r.Name+" not running")
		}
	}
	if h.Sync.Configured && h.Sync.LastContact.IsZero() {
		p = append(p, "ledger not reached")
	}
	return strings.Join(p, ", ")
}

// watch health-checks the daemon d until it is healthy (commit) or the
// timeout passes (roll back and end the run). Nil-safe: no trial, nothing.
func (t *trialRun) watch(d *terminal.Daemon) {
	if t == nil {
		return
	}
	go func() {
		deadline := time.Now().Add(t.timeout)
		problem := "daemon not started"
		for {
			if problem = healthProblem(d.Health()); problem == "" {
				if err := t.sl.Commit(); err != nil {
					fmt.Fprintf(t.log, "yktd: update: commit: %v\n", err)
					return
				}
				fmt.Fprintf(t.log, "yktd: update: %s healthy: committed\n", version)
				return
			}
			if !time.Now().Before(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		reason := fmt.Sprintf("%s failed its health check within %s: %s", version, t.timeout, problem)
		t.mu.Lock()
		t.failed = reason
		t.mu.Unlock()
		if err := t.sl.Rollback(reason); err != nil {
			fmt.Fprintf(t.log, "yktd: update: rollback: %v\n", err)
		}
		fmt.Fprintf(t.log, "yktd: update: %s; rolled back, exiting so that the previous slot starts\n", reason)
		t.cancel()
	}()
}

// result is the run's outcome: a rolled-back trial is an error (exit 1,
// the supervisor restarts into the previous slot).
func (t *trialRun) result(err error) error {
	if t == nil {
		return err
	}
	t.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != "" {
		return fmt.Errorf("%w: %s", update.ErrRolledBack, t.failed)
	}
	return err
}
