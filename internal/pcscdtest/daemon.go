package pcscdtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Daemon is a pcscd run in the foreground by this test process. The rig
// lock is held throughout, so killing and restarting it disturbs no other
// test process. Its methods are for the goroutine that runs the test.
type Daemon struct {
	path string
	logf *os.File // one log across restarts
	list ListFunc

	cmd    *exec.Cmd
	exited chan error // receives Wait's result once; nil when not running
}

// Start runs pcscd (`--foreground --debug --apdu`, its own process group,
// killed when this process dies)
// and waits (bounded) until it answers with both vpcd readers.
func (d *Daemon) Start() error {
	if d.exited != nil {
		return errors.New("pcscdtest: pcscd already running")
	}
	fmt.Fprintf(d.logf, "--- test: starting pcscd\n")
	cmd := exec.Command(d.path, "--foreground", "--debug", "--apdu")
	cmd.Stdout, cmd.Stderr = d.logf, d.logf
	// Its own process group, and killed with this process: a test binary
	// that dies (go test's timeout) must not leave a pcscd holding the
	// vpcd ports for the next test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pcscdtest: start pcscd: %w", err)
	}
	d.cmd = cmd
	d.exited = make(chan error, 1)
	go func() { d.exited <- cmd.Wait() }()
	if err := readersUp(d.list, 10*time.Second); err != nil {
		_ = d.Kill(syscall.SIGKILL)
		return fmt.Errorf("pcscdtest: pcscd started but not ready: %w", err)
	}
	return nil
}

// Running reports whether the daemon was started and not killed since.
func (d *Daemon) Running() bool { return d.exited != nil }

// Kill sends sig to pcscd and waits for it to exit, escalating to SIGKILL
// after 5 s. SIGKILL leaves pcscd's socket and pid file behind, as a crash
// does; the next Start copes with them. Killing a daemon that is not
// running does nothing.
func (d *Daemon) Kill(sig syscall.Signal) error {
	if d.exited == nil {
		return nil
	}
	fmt.Fprintf(d.logf, "--- test: sending %v to pcscd\n", sig)
	_ = d.cmd.Process.Signal(sig)
	defer func() { d.exited = nil }()
	select {
	case <-d.exited: // its exit status says nothing we need
		return nil
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("pcscdtest: pcscd ignored %v for 5s, killed", sig)
	}
}

// LogPath returns the file pcscd's debug log goes to (all its runs).
func (d *Daemon) LogPath() string { return d.logf.Name() }

// DumpLog logs the last 6000 bytes of pcscd's debug log on t when t has
// failed. A nil Daemon (a pcscd that was already running) has no log: it
// says so instead.
func (d *Daemon) DumpLog(t testing.TB) {
	t.Helper()
	if !t.Failed() {
		return
	}
	if d == nil {
		t.Log("pcscd was already running when the tests started (not ours, no log): check that nothing else uses the vpcd slots")
		return
	}
	b, err := os.ReadFile(d.LogPath())
	if err != nil {
		return
	}
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	t.Logf("pcscd log tail:\n%s", b)
}
