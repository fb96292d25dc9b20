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

// All tests that need pcscd live in this package: pcscd's socket is
// fixed, so only one package may run it at a time. TestMain starts
// `pcscd --foreground` once (unless one already answers) and stops it.

const (
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

func TestMain(m *testing.M) {
	flag.Parse()
	stop, err := startPCSCD()
	if err != nil {
		pcscdUnavailable = err.Error()
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

// startPCSCD starts pcscd in the foreground with APDU and debug logging,
// and waits (bounded) until its socket answers with both vpcd readers.
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
		return nil, err
	}
	cmd := exec.Command(path, "--foreground", "--debug", "--apdu")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		os.RemoveAll(dir)
	}
	if err := readersUp(10 * time.Second); err != nil {
		stop()
		return nil, fmt.Errorf("pcscd started but not ready: %w", err)
	}
	return stop, nil
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
	if !t.Failed() || pcscdLog == "" {
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
