package pcsc

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// All tests that need pcscd live in this package: pcscd's socket and
// vpcd's TCP ports are fixed, so only one test process on the machine may
// use them at a time. TestMain takes a machine-wide lock (rigLockPath),
// starts `pcscd --foreground` once (unless one already answers), and stops
// it before releasing the lock.
//
// Without the lock, a second test process (another `go test` of this
// package, or of ./... , running at the same time) finds the first one's
// pcscd answering, uses it, and dials the same vpcd slots: vpcd serves one
// card connection per slot, both processes' Readers watch "Virtual PCD 00
// 00", and each one's APDUs reach the other's card. That showed up as
// SELECT answered 6D00 (the conformance responder), 6985 at DEBIT (the
// other process reset or re-selected the card between INITIALIZE FOR
// PURCHASE and DEBIT), 0-byte responses and SCARD_E_NOT_TRANSACTED (the
// other process's torn card), a purchase debiting the wrong card, and
// SCARD_F_COMM_ERROR when the first process stopped the shared pcscd.

const (
	// rigLockPath serialises the processes that use pcscd and the vpcd
	// slots. It is under /tmp rather than os.TempDir(): pcscd is one per
	// machine, whatever TMPDIR each test process has.
	rigLockPath = "/tmp/yktd-pcscd-rig.lock"
	// rigLockWait bounds the wait for another test process to finish.
	rigLockWait = 5 * time.Minute

	vpcdDriver  = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	vpcdReader  = "Virtual PCD 00 00" // Debian's vpcd slot 0, TCP 35963
	vpcdAddr    = "127.0.0.1:35963"
	vpcdReader2 = "Virtual PCD 00 01"
)

var (
	pcscdUnavailable string // why the pcscd tests cannot run, "" when they can
	pcscdLog         string // pcscd's debug log, shown when a test fails
)

// needPCSCD skips a test without pcscd and vpcd, but fails it in CI
// (CI set): there CI installs them, so a skip would hide a broken rig.
func needPCSCD(t *testing.T) {
	t.Helper()
	if pcscdUnavailable == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("pcscd tests cannot run in CI: %s", pcscdUnavailable)
	}
	t.Skipf("pcscd tests skipped: %s", pcscdUnavailable)
}

// needOwnPCSCD returns the pcscd TestMain started, for tests that kill and
// restart it. With a daemon that was already running (not ours to kill)
// it skips, and fails in CI, where TestMain always starts its own.
func needOwnPCSCD(t *testing.T) *pcscdProc {
	t.Helper()
	needPCSCD(t)
	if rigPCSCD != nil {
		return rigPCSCD
	}
	if os.Getenv("CI") != "" {
		t.Fatal("pcscd was already running when the tests started: cannot kill and restart it in CI")
	}
	t.Skip("pcscd was already running when the tests started: not ours to kill and restart")
	return nil
}

func TestMain(m *testing.M) {
	flag.Parse()
	var stop, unlock func()
	var err error
	if fuzzing() {
		// A fuzz run (coordinator and each worker process run TestMain)
		// needs no pcscd: its targets fake the daemon. Taking the rig lock
		// here would make the workers wait for their own coordinator.
		err = errors.New("fuzzing: the pcscd tests do not run")
	} else if unlock, err = lockRig(); err == nil {
		stop, err = startPCSCD()
	}
	if err != nil {
		pcscdUnavailable = err.Error()
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	if unlock != nil {
		unlock()
	}
	os.Exit(code)
}

// fuzzing reports whether this process is a fuzzing coordinator or worker.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// lockRig takes the machine-wide rig lock (flock on rigLockPath), waiting
// up to rigLockWait while another test process holds it. The lock goes
// with the process, so a crashed run never leaves it stuck.
func lockRig() (unlock func(), err error) {
	if testing.Short() {
		return nil, errors.New("-short")
	}
	f, err := os.OpenFile(rigLockPath, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("rig lock: %w", err)
	}
	fd := int(f.Fd())
	deadline := time.Now().Add(rigLockWait)
	for waited := false; ; {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("rig lock %s: %w", rigLockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("rig lock %s: another test process has held it for %v", rigLockPath, rigLockWait)
		}
		if !waited {
			fmt.Fprintf(os.Stderr, "pcsc tests: waiting for another test process to release %s\n", rigLockPath)
			waited = true
		}
		time.Sleep(100 * time.Millisecond) // polling the lock, bounded
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}

// startPCSCD starts pcscd in the foreground with APDU and debug logging,
// and waits (bounded) until its socket answers with both vpcd readers. It
// leaves the daemon in rigPCSCD so that tests can kill and restart it.
func startPCSCD() (stop func(), err error) {
	if testing.Short() {
		return nil, errors.New("-short")
	}
	path, err := exec.LookPath("pcscd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/pcscd"); err2 != nil {
			return nil, errors.New("pcscd not installed (apt-get install pcscd)")
		}
		path = "/usr/sbin/pcscd"
	}
	if _, err := os.Stat(vpcdDriver); err != nil {
		return nil, errors.New("vpcd driver not installed (apt-get install vsmartcard-vpcd)")
	}
	if readersUp(2*time.Second) == nil {
		// A daemon already answers (a developer's, or a stale test run):
		// use it rather than fight over the socket.
		return nil, nil
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("pcscd not running and starting it needs root (/run/pcscd)")
	}
	dir, err := os.MkdirTemp("", "pcscd-test-")
	if err != nil {
		return nil, err
	}
	pcscdLog = filepath.Join(dir, "pcscd.log")
	logf, err := os.Create(pcscdLog)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &pcscdProc{path: path, logf: logf}
	stop = func() {
		_ = d.kill(syscall.SIGTERM)
		logf.Close()
		os.RemoveAll(dir)
	}
	if err := d.start(); err != nil {
		stop()
		return nil, err
	}
	rigPCSCD = d
	return stop, nil
}

// rigPCSCD is the pcscd TestMain started; nil when the tests use a daemon
// that was already running (or none).
var rigPCSCD *pcscdProc

// pcscdProc is a pcscd run in the foreground by this test process. The
// rig lock is held throughout, so killing and restarting it disturbs no
// other test process.
type pcscdProc struct {
	path string
	logf *os.File // one log across restarts

	cmd    *exec.Cmd
	exited chan error // receives Wait's result once; nil when not running
}

// start runs pcscd and waits (bounded) until it answers with both vpcd
// readers.
func (d *pcscdProc) start() error {
	if d.exited != nil {
		return errors.New("pcscd already running")
	}
	fmt.Fprintf(d.logf, "--- test: starting pcscd\n")
	cmd := exec.Command(d.path, "--foreground", "--debug", "--apdu")
	cmd.Stdout, cmd.Stderr = d.logf, d.logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pcscd: %w", err)
	}
	d.cmd = cmd
	d.exited = make(chan error, 1)
	go func() { d.exited <- cmd.Wait() }()
	if err := readersUp(10 * time.Second); err != nil {
		_ = d.kill(syscall.SIGKILL)
		return fmt.Errorf("pcscd started but not ready: %w", err)
	}
	return nil
}

// kill sends sig to pcscd and waits for it to exit, escalating to SIGKILL
// after 5 s. SIGKILL leaves pcscd's socket and pid file behind, as a crash
// does; the next start copes with them.
func (d *pcscdProc) kill(sig syscall.Signal) error {
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
		return fmt.Errorf("pcscd ignored %v for 5s, killed", sig)
	}
}

// readersUp polls the socket until pcscd answers with both vpcd readers.
func readersUp(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		st, err := ListReaders(ctx, Options{Backend: Pure})
		cancel()
		if err == nil {
			names := make([]string, len(st))
			for i, s := range st {
				names[i] = s.Name
			}
			if slices.Contains(names, vpcdReader) && slices.Contains(names, vpcdReader2) {
				return nil
			}
			err = fmt.Errorf("readers %q, want both vpcd readers", names)
		}
		last = err
		time.Sleep(50 * time.Millisecond) // polling a daemon we do not control
	}
	return last
}

// dumpLog shows the tail of pcscd's log when a test failed.
func dumpLog(t *testing.T) {
	t.Helper()
	if !t.Failed() {
		return
	}
	if pcscdLog == "" {
		t.Log("pcscd was already running when the tests started (not ours, no log): check that nothing else uses the vpcd slots")
		return
	}
	b, err := os.ReadFile(pcscdLog)
	if err != nil {
		return
	}
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	t.Logf("pcscd log tail:\n%s", b)
}
