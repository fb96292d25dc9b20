package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stream is one output of a process: kept in memory (a scenario's
// processes say little) for the expectations, and written to a file in
// the scenario's logs folder for the engineer.
type stream struct {
	mu      sync.Mutex
	b       []byte
	f       *os.File
	changed chan struct{}
}

func newStream(path string) (*stream, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("rig: log: %w", err)
	}
	return &stream{f: f, changed: make(chan struct{})}, nil
}

// maxStream bounds what a stream keeps in memory; the file keeps it all.
const maxStream = 8 << 20

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.b)+len(p) <= maxStream {
		s.b = append(s.b, p...)
	}
	_, _ = s.f.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

// len is how much has been written so far (a mark for since).
func (s *stream) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.b)
}

// since returns what was written after mark, and a channel closed at the
// next write.
func (s *stream) since(mark int) (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mark > len(s.b) {
		mark = len(s.b)
	}
	return string(s.b[mark:]), s.changed
}

// tail returns the last n lines.
func (s *stream) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := bytes.TrimRight(s.b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

func (s *stream) close() { _ = s.f.Close() }

// proc is one process the runner started (and only it ends).
type proc struct {
	name   string // "pos", "pos (run 2)", "ledger"
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *stream
	stderr *stream
	done   chan struct{}
	code   int // after done: the exit code, -1 for a signal
	sig    string
}

// startProc starts bin with args; its outputs go to logs/base.stdout and
// .stderr. stdin is a pipe the runner owns (a device's console keypad).
func startProc(name, logs, base, bin string, args []string) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{})}
	var err error
	if p.stdout, err = newStream(filepath.Join(logs, base+".stdout")); err != nil {
		return nil, err
	}
	if p.stderr, err = newStream(filepath.Join(logs, base+".stderr")); err != nil {
		p.stdout.close()
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Env = append(os.Environ(), "TZ=Asia/Shanghai")
	// Its own process group: a ^C at the runner's terminal reaches the
	// runner, which then stops what it started in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		p.closeStreams()
		return nil, fmt.Errorf("rig: %s: %w", name, err)
	}
	if err := p.cmd.Start(); err != nil {
		p.closeStreams()
		return nil, fmt.Errorf("rig: start %s: %w", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.sig = ws.Signal().String()
		}
		_ = err
		p.closeStreams()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) closeStreams() {
	p.stdout.close()
	p.stderr.close()
}

// running reports whether the process has not ended yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exitText describes how it ended.
func (p *proc) exitText() string {
	if p.sig != "" {
		return "killed by " + p.sig
	}
	return fmt.Sprintf("exit %d", p.code)
}

// signal sends sig to the process (only to it: its id, never a name).
func (p *proc) signal(sig syscall.Signal) {
	if p.running() {
		_ = p.cmd.Process.Signal(sig)
	}
}

// wait waits for the end up to d.
func (p *proc) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("rig: %s did not end within %v", p.name, d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the process: SIGTERM, and SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	_ = p.stdin.Close()
	p.signal(syscall.SIGTERM)
	if p.wait(context.Background(), grace) != nil {
		p.signal(syscall.SIGKILL)
		_ = p.wait(context.Background(), 10*time.Second)
	}
}

// runCmd runs a short command to its end (an operator's ledgerd command)
// and returns its stdout, stderr and exit code; err only when it could not
// run or did not end within limit.
func runCmd(ctx context.Context, limit time.Duration, bin string, args ...string) (stdout, stderr string, code int, err error) {
	return runCmdInput(ctx, limit, "", bin, args...)
}

// runCmdInput is runCmd with input on the command's stdin (a PIN or an ID
// number: never on a command line, where ps and the timeline would show
// it).
func runCmdInput(ctx context.Context, limit time.Duration, input, bin string, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if input != "" {
		cmd.Stdin = strings.NewReader(input)
	}
	var ob, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &ob, &eb
	cmd.Env = append(os.Environ(), "TZ=Asia/Shanghai")
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return ob.String(), eb.String(), -1, fmt.Errorf("rig: %s %s: %w", filepath.Base(bin), strings.Join(args, " "), ctx.Err())
	case errors.As(err, &ee):
		return ob.String(), eb.String(), ee.ExitCode(), nil
	case err != nil:
		return ob.String(), eb.String(), -1, fmt.Errorf("rig: %s: %w", filepath.Base(bin), err)
	}
	return ob.String(), eb.String(), 0, nil
}
