// Package pcscdtest runs the machine's pcscd with the vpcd readers for the
// tests that need a real PC/SC stack (reader/pcsc, and cmd/yktd's PSAM
// end-to-end test).
//
// pcscd's socket and vpcd's TCP ports are fixed, so only one test process
// on the machine may use them at a time. Setup takes a machine-wide lock
// (LockPath, flock), starts `pcscd --foreground` with debug and APDU
// logging (unless one already answers), waits until it lists both vpcd
// readers, and Close stops it before releasing the lock.
//
// Without the lock, a second test process (another `go test` of the same
// package, or of ./... running packages in parallel) finds the first one's
// pcscd answering, uses it, and dials the same vpcd slots: vpcd serves one
// card connection per slot, both processes' readers watch "Virtual PCD 00
// 00", and each one's APDUs reach the other's card. That showed up as
// SELECT answered 6D00 (another test's responder), 6985 at DEBIT (the
// other process reset or re-selected the card between INITIALIZE FOR
// PURCHASE and DEBIT), 0-byte responses and SCARD_E_NOT_TRANSACTED (the
// other process's torn card), a purchase debiting the wrong card, and
// SCARD_F_COMM_ERROR when the first process stopped the shared pcscd.
//
// The tests skip without pcscd and vpcd on a developer machine but fail in
// CI (the CI environment variable set), where .ci/run installs both.
//
// The lock is an flock on an open file: a second Setup in the same process
// while the first Rig is open would wait for itself. Use one Rig at a time
// per process (TestMain, or one test after the other).
package pcscdtest

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

// The rig: the lock, the vpcd driver and Debian's two vpcd reader slots.
const (
	// LockPath serialises the processes that use pcscd and the vpcd slots.
	// It is under /tmp rather than os.TempDir(): pcscd is one per machine,
	// whatever TMPDIR each test process has.
	LockPath = "/tmp/yktd-pcscd-rig.lock"
	// LockWait bounds the wait for another test process to finish.
	LockWait = 5 * time.Minute

	// VPCDDriver is the vpcd driver pcscd loads (Debian's vsmartcard-vpcd).
	VPCDDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	// Reader0 and Addr0: vpcd's first slot and the TCP address its card
	// side connects to.
	Reader0 = "Virtual PCD 00 00"
	Addr0   = "127.0.0.1:35963"
	// Reader1 and Addr1: vpcd's second slot.
	Reader1 = "Virtual PCD 00 01"
	Addr1   = "127.0.0.1:35964"
)

// ListFunc lists the names of the readers pcscd answers with, within ctx.
// Callers pass reader/pcsc's ListReaders (pure backend): this package
// cannot import reader/pcsc, whose own tests use it.
type ListFunc func(ctx context.Context) ([]string, error)

// Rig is pcscd with both vpcd readers, held under the machine-wide lock.
type Rig struct {
	// Daemon is the pcscd Setup started; nil when one was already running
	// (a developer's, or a stale run): not ours to kill and restart.
	Daemon *Daemon

	unlock func()
	dir    string
}

// Setup takes the rig lock (waiting up to LockWait for another test
// process) and makes sure a pcscd answers with both vpcd readers, starting
// one when none runs. Its error says why the pcscd tests cannot run here:
// -short, pcscd or vpcd not installed, not root, pcscd not ready. Close
// the Rig to stop the daemon it started and release the lock.
func Setup(list ListFunc) (*Rig, error) {
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
	if _, err := os.Stat(VPCDDriver); err != nil {
		return nil, errors.New("vpcd driver not installed (apt-get install vsmartcard-vpcd)")
	}
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	r := &Rig{unlock: unlock}
	if readersUp(list, 2*time.Second) == nil {
		// A daemon already answers: use it rather than fight over the
		// socket.
		return r, nil
	}
	if os.Geteuid() != 0 {
		r.Close()
		return nil, errors.New("pcscd not running and starting it needs root (/run/pcscd)")
	}
	if r.dir, err = os.MkdirTemp("", "pcscd-test-"); err != nil {
		r.Close()
		return nil, err
	}
	logf, err := os.Create(filepath.Join(r.dir, "pcscd.log"))
	if err != nil {
		r.Close()
		return nil, err
	}
	r.Daemon = &Daemon{path: path, logf: logf, list: list}
	if err := r.Daemon.Start(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close stops the pcscd Setup started (SIGTERM), removes its log and
// releases the lock. Calling it again is harmless.
func (r *Rig) Close() {
	if r.Daemon != nil {
		_ = r.Daemon.Kill(syscall.SIGTERM)
		r.Daemon.logf.Close()
		r.Daemon = nil
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
		r.dir = ""
	}
	if r.unlock != nil {
		r.unlock()
		r.unlock = nil
	}
}

// Need is Setup for one test: it skips t when the rig cannot run (and
// fails it in CI, see Unavailable), and closes the Rig when t ends.
func Need(t testing.TB, list ListFunc) *Rig {
	t.Helper()
	r, err := Setup(list)
	if err != nil {
		Unavailable(t, err.Error())
		return nil
	}
	t.Cleanup(r.Close)
	return r
}

// Unavailable skips t because the pcscd rig cannot run (reason says why),
// or fails it when the CI environment variable is set: CI installs pcscd
// and vpcd, so a skip there would hide a broken rig.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("pcscd tests cannot run in CI: %s", reason)
		return
	}
	t.Skipf("pcscd tests skipped: %s", reason)
}

// Own returns the pcscd Setup started, for tests that kill and restart
// it. With a daemon that was already running (not ours to kill) it skips
// t, and fails it in CI, where Setup always starts its own.
func (r *Rig) Own(t testing.TB) *Daemon {
	t.Helper()
	if r.Daemon != nil {
		return r.Daemon
	}
	if os.Getenv("CI") != "" {
		t.Fatal("pcscd was already running when the tests started: cannot kill and restart it in CI")
		return nil
	}
	t.Skip("pcscd was already running when the tests started: not ours to kill and restart")
	return nil
}

// Fuzzing reports whether this process is a fuzzing coordinator or worker
// (after flag.Parse). A TestMain must not take the rig lock then: the
// workers would wait for their own coordinator.
func Fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// lock takes the machine-wide rig lock (flock on LockPath), waiting up to
// LockWait while another test process holds it. The lock goes with the
// process, so a crashed run never leaves it stuck.
func lock() (unlock func(), err error) {
	f, err := os.OpenFile(LockPath, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("rig lock: %w", err)
	}
	fd := int(f.Fd())
	deadline := time.Now().Add(LockWait)
	for waited := false; ; {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("rig lock %s: %w", LockPath, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("rig lock %s: another test process has held it for %v", LockPath, LockWait)
		}
		if !waited {
			fmt.Fprintf(os.Stderr, "pcscd tests: waiting for another test process to release %s\n", LockPath)
			waited = true
		}
		time.Sleep(100 * time.Millisecond) // polling the lock, bounded
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}

// readersUp polls until pcscd answers with both vpcd readers.
func readersUp(list ListFunc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		names, err := list(ctx)
		cancel()
		if err == nil {
			if slices.Contains(names, Reader0) && slices.Contains(names, Reader1) {
				return nil
			}
			err = fmt.Errorf("readers %q, want both vpcd readers", names)
		}
		last = err
		time.Sleep(50 * time.Millisecond) // polling a daemon we do not control
	}
	return last
}
