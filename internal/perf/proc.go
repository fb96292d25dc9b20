package perf

import (
	"bufio"
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

// Line is one line a process wrote, with the moment this process read it
// from the pipe.
type Line struct {
	T    time.Time
	Text string
}

// Lines is one output of a process, kept line by line and copied to a
// log file.
type Lines struct {
	mu      sync.Mutex
	lines   []Line
	changed chan struct{}
	eof     bool
}

func newLines() *Lines { return &Lines{changed: make(chan struct{})} }

// maxLines bounds what Lines keeps in memory (the log file keeps all).
const maxLines = 1 << 20

// read copies r into l and f until r ends, stamping each line as it
// arrives.
func (l *Lines) read(r io.Reader, f io.Writer) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		s, err := br.ReadString('\n')
		now := time.Now()
		if s != "" {
			_, _ = io.WriteString(f, s)
			l.mu.Lock()
			if len(l.lines) < maxLines {
				l.lines = append(l.lines, Line{T: now, Text: strings.TrimRight(s, "\r\n")})
			}
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
		if err != nil {
			l.mu.Lock()
			l.eof = true
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
			return
		}
	}
}

// Len is the number of lines so far: a mark for Wait.
func (l *Lines) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// Wait returns the first line at or after index from for which match is
// true, and its index, waiting until ctx ends or the output closes.
func (l *Lines) Wait(ctx context.Context, from int, match func(string) bool) (Line, int, error) {
	for {
		l.mu.Lock()
		for i := from; i < len(l.lines); i++ {
			if match(l.lines[i].Text) {
				ln := l.lines[i]
				l.mu.Unlock()
				return ln, i, nil
			}
		}
		from = max(from, len(l.lines))
		eof, ch := l.eof, l.changed
		l.mu.Unlock()
		if eof {
			return Line{}, 0, io.EOF
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Line{}, 0, ctx.Err()
		}
	}
}

// Tail returns the last n lines as text.
func (l *Lines) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, x := range l.lines[max(0, len(l.lines)-n):] {
		b.WriteString("    " + x.Text + "\n")
	}
	return b.String()
}

// Proc is a program this run started (and only it stops, by its pid).
type Proc struct {
	Name string
	Out  *Lines // stdout
	Err  *Lines // stderr

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	state *os.ProcessState
	files []*os.File
}

// Start runs bin with args, its outputs in logs/name.stdout and .stderr
// as well as in Out and Err, its stdin a pipe kept open (a console
// nobody types on), in its own process group.
func Start(name, logs, bin string, args ...string) (*Proc, error) {
	p := &Proc{Name: name, Out: newLines(), Err: newLines(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "TZ=Asia/Shanghai")
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("perf: %s: %w", name, err)
	}
	errR, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("perf: %s: %w", name, err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("perf: %s: %w", name, err)
	}
	var logsOut [2]*os.File
	for i, ext := range []string{".stdout", ".stderr"} {
		if logsOut[i], err = os.Create(filepath.Join(logs, name+ext)); err != nil {
			p.closeFiles()
			return nil, fmt.Errorf("perf: %s: %w", name, err)
		}
		p.files = append(p.files, logsOut[i])
	}
	if err := p.cmd.Start(); err != nil {
		p.closeFiles()
		return nil, fmt.Errorf("perf: start %s: %w", name, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.Out.read(outR, logsOut[0]) }()
	go func() { defer wg.Done(); p.Err.read(errR, logsOut[1]) }()
	go func() {
		wg.Wait() // the pipes first: Wait closes them
		_ = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		p.closeFiles()
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) closeFiles() {
	for _, f := range p.files {
		_ = f.Close()
	}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not ended.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exit describes how the process ended ("" while it runs).
func (p *Proc) Exit() string {
	if p.Running() {
		return ""
	}
	return p.state.String()
}

// Stop ends the process: SIGTERM, then SIGKILL after grace. It returns an
// error when the process did not exit 0 after SIGTERM.
func (p *Proc) Stop(grace time.Duration) error {
	if !p.Running() {
		return p.exitErr()
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("perf: %s ignored SIGTERM for %v: killed", p.Name, grace)
	}
}

func (p *Proc) exitErr() error {
	if p.state.Success() {
		return nil
	}
	return fmt.Errorf("perf: %s: %s\n%s", p.Name, p.state, p.Err.Tail(15))
}

// RunCmd runs bin with args to its end within limit and returns its stdout.
func RunCmd(ctx context.Context, limit time.Duration, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			return out.String(), fmt.Errorf("perf: %s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		return out.String(), fmt.Errorf("perf: %s: %w", filepath.Base(bin), err)
	}
	return out.String(), nil
}
