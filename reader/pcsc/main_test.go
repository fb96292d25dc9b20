package pcsc

import (
	"context"
	"flag"
	"os"
	"syscall"
	"testing"

	"github.com/openykt/yktd/internal/pcscdtest"
)

// All tests that need pcscd live in this package. TestMain sets up the
// pcscd rig once (internal/pcscdtest: the machine-wide lock, `pcscd
// --foreground` with the vpcd readers) and tears it down at the end. The
// package documentation of pcscdtest lists the traps of sharing pcscd and
// the vpcd slots between test processes.

const (
	vpcdReader  = pcscdtest.Reader0 // Debian's vpcd slot 0, TCP 35963
	vpcdAddr    = pcscdtest.Addr0
	vpcdReader2 = pcscdtest.Reader1
)

var (
	pcscdUnavailable string     // why the pcscd tests cannot run, "" when they can
	rigPCSCD         *pcscdProc // the pcscd TestMain started; nil when not ours (or none)
)

// needPCSCD skips a test without pcscd and vpcd, but fails it in CI.
func needPCSCD(t *testing.T) {
	t.Helper()
	if pcscdUnavailable != "" {
		pcscdtest.Unavailable(t, pcscdUnavailable)
	}
}

// needOwnPCSCD returns the pcscd TestMain started, for tests that kill and
// restart it. With a daemon that was already running (not ours to kill)
// it skips, and fails in CI, where TestMain always starts its own.
func needOwnPCSCD(t *testing.T) *pcscdProc {
	t.Helper()
	needPCSCD(t)
	if rigPCSCD == nil {
		(&pcscdtest.Rig{}).Own(t)
	}
	return rigPCSCD
}

// listReaders is the rig's readiness check: the pure backend's reader list.
func listReaders(ctx context.Context) ([]string, error) {
	st, err := ListReaders(ctx, Options{Backend: Pure})
	names := make([]string, len(st))
	for i, s := range st {
		names[i] = s.Name
	}
	return names, err
}

func TestMain(m *testing.M) {
	flag.Parse()
	var rig *pcscdtest.Rig
	if pcscdtest.Fuzzing() {
		// A fuzz run (coordinator and each worker process run TestMain)
		// needs no pcscd: its targets fake the daemon. Taking the rig lock
		// here would make the workers wait for their own coordinator.
		pcscdUnavailable = "fuzzing: the pcscd tests do not run"
	} else if r, err := pcscdtest.Setup(listReaders); err != nil {
		pcscdUnavailable = err.Error()
	} else {
		rig = r
		if r.Daemon != nil {
			rigPCSCD = &pcscdProc{Daemon: r.Daemon}
			rigPCSCD.sync()
		}
	}
	code := m.Run()
	if rig != nil {
		rig.Close()
	}
	os.Exit(code)
}

// pcscdProc is the pcscd TestMain started, with the lower-case methods the
// tests of this package call. exited is nil while pcscd is not running
// (restart_test.go restarts it then).
type pcscdProc struct {
	*pcscdtest.Daemon
	exited chan struct{}
}

func (d *pcscdProc) start() error { defer d.sync(); return d.Start() }

func (d *pcscdProc) kill(sig syscall.Signal) error { defer d.sync(); return d.Kill(sig) }

func (d *pcscdProc) sync() {
	switch {
	case !d.Running():
		d.exited = nil
	case d.exited == nil:
		d.exited = make(chan struct{})
	}
}

// dumpLog shows the tail of pcscd's log when a test failed.
func dumpLog(t *testing.T) {
	t.Helper()
	var d *pcscdtest.Daemon
	if rigPCSCD != nil {
		d = rigPCSCD.Daemon
	}
	d.DumpLog(t)
}
