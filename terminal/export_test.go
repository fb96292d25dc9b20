package terminal

import "github.com/openykt/yktd/terminal/pos"

// WaitingPolls is the number of /v1/taps long polls waiting in their
// handler, for tests that must know a poll reached the daemon.
func (d *Daemon) WaitingPolls() int { return int(d.polls.Load()) }

// POSTapRecorder returns what the daemon's handle() does with a POS tap's
// result for the metrics, on a metric set of its own (for benchmarks).
func POSTapRecorder() func(pos.Result) { return newDaemonMetrics().posTap }
