package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/pcscdtest"
	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/terminal"
)

// The PSAM end-to-end rig: the real yktd binary, real pcscd with the vpcd
// readers (internal/pcscdtest), virtual cards behind vpcd in `yktd rig
// vcard` processes, the daemon in a `yktd run --config` process.

// listVPCD is pcscdtest's readiness check: the pure backend's reader list.
func listVPCD(ctx context.Context) ([]string, error) {
	st, err := pcsc.ListReaders(ctx, pcsc.Options{Backend: pcsc.Pure})
	names := make([]string, len(st))
	for i, s := range st {
		names[i] = s.Name
	}
	return names, err
}

// buildYktd builds the static yktd binary (CGO_ENABLED=0 -trimpath, as
// `make build` does, so that CI reuses its build cache) into dir.
func buildYktd(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		pcscdtest.Unavailable(t, "no go tool on PATH to build yktd")
		return ""
	}
	bin := filepath.Join(dir, "yktd")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build yktd: %v\n%s", err, out)
	}
	return bin
}

// logProc is a child process of the test with its output in a file.
type logProc struct {
	name string
	cmd  *exec.Cmd
	out  string // path of its stdout and stderr
	done chan struct{}
}

// startLogProc starts bin args... with its output in dir/name.log; it is
// killed at the end of the test if still running.
func startLogProc(t *testing.T, dir, name, bin string, args ...string) *logProc {
	t.Helper()
	p := &logProc{name: name, out: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "--- test: starting %s %s\n", bin, strings.Join(args, " "))
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop ends the process with SIGTERM and returns its exit code.
func (p *logProc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not stop within 30s of SIGTERM\n%s", p.name, p.log())
	}
	return p.cmd.ProcessState.ExitCode()
}

// exited reports whether the process ended.
func (p *logProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// log returns what the process wrote so far.
func (p *logProc) log() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

// logTail is the end of the process's output, for failure messages.
func (p *logProc) logTail() string {
	s := p.log()
	if len(s) > 8000 {
		s = s[len(s)-8000:]
	}
	return s
}

// waitLog waits (bounded) until the process's output holds msg at least n
// times.
func (p *logProc) waitLog(t *testing.T, msg string, n int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; {
		if strings.Count(p.log(), msg) >= n {
			return
		}
		if p.exited() {
			t.Fatalf("%s exited while waiting for %q\n%s", p.name, msg, p.logTail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q not logged %d times within %v\n%s", p.name, msg, n, within, p.logTail())
		}
		time.Sleep(50 * time.Millisecond) // polling a child's log, bounded
	}
}

// waitReaderEmpty waits (bounded) until pcscd reports no card in the vpcd
// reader name: pcscd notices a removal at its next 400 ms presence poll,
// and a new connection on the slot before that poll would look like the
// old card still in the field (no new tap).
func waitReaderEmpty(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := pcsc.ListReaders(ctx, pcsc.Options{Backend: pcsc.Pure})
		cancel()
		if err == nil && !slices.ContainsFunc(st, func(s pcsc.ReaderStatus) bool { return s.Name == name && s.Present }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd still reports a card in %s (err %v): %+v", name, err, st)
		}
		time.Sleep(50 * time.Millisecond) // polling pcscd's view, bounded
	}
}

// controlClient is the test's side of the daemon's control interface on a
// unix socket.
type controlClient struct {
	socket string
	hc     *http.Client
}

func newControlClient(socket string) *controlClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &controlClient{socket: socket, hc: &http.Client{Transport: tr, Timeout: 40 * time.Second}}
}

// call is every request of the PSAM end-to-end test to the control
// interface: method path with body (JSON, nil for none), a 200 answer
// decoded into out (unless nil). A credential the interface comes to
// require goes here, and only here.
func (c *controlClient) call(method, path string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://yktd"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// waitUp waits (bounded) until the daemon answers /v1/health.
func (c *controlClient) waitUp(t *testing.T, daemon *logProc) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; {
		var health map[string]any
		err := c.call(http.MethodGet, "/v1/health", nil, &health)
		if err == nil {
			return
		}
		if daemon.exited() {
			t.Fatalf("yktd run exited before its control interface answered\n%s", daemon.logTail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("control interface not up within 60s: %v\n%s", err, daemon.logTail())
		}
		time.Sleep(50 * time.Millisecond) // polling a child's socket, bounded
	}
}

// nextTap long-polls /v1/taps for the first tap after n.
func (c *controlClient) nextTap(t *testing.T, after uint64, daemon *logProc) terminal.TapRecord {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		var recs []terminal.TapRecord
		if err := c.call(http.MethodGet, fmt.Sprintf("/v1/taps?after=%d&wait=5s", after), nil, &recs); err != nil {
			t.Fatalf("%v\n%s", err, daemon.logTail())
		}
		if len(recs) > 0 {
			return recs[0]
		}
	}
	t.Fatalf("no tap after %d within 60s\n%s", after, daemon.logTail())
	return terminal.TapRecord{}
}
