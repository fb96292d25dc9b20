package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asYktdEnv makes the test binary behave as the yktd binary: TestMain runs
// the command line instead of the tests, so that tests start real yktd
// processes (their own signals, exit codes, files) without a build step.
const asYktdEnv = "YKTD_TEST_AS_YKTD"

func TestMain(m *testing.M) {
	if os.Getenv(asYktdEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// yktdProcess is one yktd process a test started.
type yktdProcess struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan int // its exit code, once
}

// startYktd starts `yktd args...` as a real process. The test's cleanup
// kills it if it is still running.
func startYktd(t *testing.T, args ...string) *yktdProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asYktdEnv+"=1")
	p := &yktdProcess{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan int, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.done <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		select {
		case code := <-p.done:
			p.done <- code
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exit waits for the process to end by itself and returns its exit code.
func (p *yktdProcess) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("yktd %q did not exit\nstderr:\n%s", p.cmd.Args[1:], p.stderr)
	}
	return -1
}

// waitLog waits until the process logged want, and fails if it exits first.
func (p *yktdProcess) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("yktd %q did not log %q within 60s\nstderr:\n%s", p.cmd.Args[1:], want, p.stderr)
		}
		select {
		case code := <-p.done:
			p.done <- code
			t.Fatalf("yktd %q exited with %d before logging %q\nstderr:\n%s", p.cmd.Args[1:], code, want, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// term stops the process with SIGTERM and returns its exit code.
func (p *yktdProcess) term(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.exit(t)
}
