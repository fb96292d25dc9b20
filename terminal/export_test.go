package terminal

// WaitingPolls is the number of /v1/taps long polls waiting in their
// handler, for tests that must know a poll reached the daemon.
func (d *Daemon) WaitingPolls() int { return int(d.polls.Load()) }
