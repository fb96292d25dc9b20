package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

// The tests of this file's kind run the real programs as processes: a
// `ledgerd` built from cmd/ledgerd and `yktd run --config` (this test
// binary re-executed as yktd), talking HTTP to each other and to the test
// through the control interface, stopped with SIGTERM.

// proc is a program running in a child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *testbuf.Buffer
	stderr *testbuf.Buffer
	done   chan int // its exit code, once
}

// startProc starts cmd, its output kept, and stops it at the end of the
// test if it is still running.
func startProc(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, stdout: &testbuf.Buffer{}, stderr: &testbuf.Buffer{}, done: make(chan int, 1)}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil { // a console nobody types on
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
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
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
	})
	return p
}

// startYktd runs `yktd args...` in a child process: this test binary in
// its as-yktd mode (TestMain, exec_test.go), with its own signals, exit
// code and files.
func startYktd(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asYktdEnv+"=1")
	return startProc(t, "yktd", cmd)
}

// exit waits for the process to end by itself and returns its exit code.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	return p.wait(t)
}

// waitLog waits until the process logged want, and fails if it exits first.
func (p *proc) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s %q did not log %q within 60s\nstderr:\n%s", p.name, p.cmd.Args[1:], want, p.stderr)
		}
		select {
		case code := <-p.done:
			p.done <- code
			t.Fatalf("%s %q exited with %d before logging %q\nstderr:\n%s", p.name, p.cmd.Args[1:], code, want, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// term stops the process with SIGTERM and returns its exit code.
func (p *proc) term(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(t)
}

// wait returns the exit code once the process ended (a minute at most:
// past that the test fails, for a process that hangs).
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(time.Minute):
		t.Fatalf("%s did not end within a minute\nstderr:\n%s", p.name, p.stderr.String())
	}
	return -1
}

// ledgerd is a `ledgerd serve` process on loopback.
type ledgerd struct {
	*proc
	bin, data   string
	url         string
	fingerprint string // of its signing key, for sync.ledger_key
}

// buildLedgerd builds cmd/ledgerd into dir.
func buildLedgerd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ledgerd")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/openykt/yktd/cmd/ledgerd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ledgerd: %v\n%s", err, out)
	}
	return bin
}

// startLedgerd makes a ledger in a new directory (with the test issuer
// keys, so that it verifies the sales' TACs) and serves it on loopback.
func startLedgerd(t *testing.T) *ledgerd {
	t.Helper()
	dir := t.TempDir()
	l := &ledgerd{bin: buildLedgerd(t), data: filepath.Join(dir, "ledger")}
	keys := filepath.Join(dir, "issuer-keys.json")
	if err := os.WriteFile(keys, sam.TestKeyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	l.admin(t, "init", "--data", l.data)
	pk, err := protocol.DecodePublicKeyPEM([]byte(l.admin(t, "keys", "--data", l.data, "--pem")))
	if err != nil {
		t.Fatalf("ledgerd keys --pem: %v", err)
	}
	l.fingerprint = protocol.Fingerprint(pk.Key)
	l.serve(t, "127.0.0.1:0", keys)
	return l
}

var servingOn = regexp.MustCompile(`ledgerd serving on (\S+) `)

// serve starts `ledgerd serve` on listen and waits until it serves.
func (l *ledgerd) serve(t *testing.T, listen, keys string) {
	t.Helper()
	l.proc = startProc(t, "ledgerd", exec.Command(l.bin, "serve", "--data", l.data, "--listen", listen, "--issuer-keys", keys))
	l.stdout.WaitFor(t, "ledgerd serving on", time.Minute)
	l.url = "http://" + servingOn.FindStringSubmatch(l.stdout.String())[1] + "/"
}

// admin runs an operator command of ledgerd (through the admin socket
// while it serves) and returns its standard output.
func (l *ledgerd) admin(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(l.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ledgerd %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// device returns the ledger's view of a device (ledgerd device list --json).
func (l *ledgerd) device(t *testing.T, id string) (highWater uint64, debits int64, debitCount uint64) {
	t.Helper()
	var devs []struct {
		ID        string `json:"id"`
		HighWater uint64 `json:"high_water"`
		Stats     struct {
			Debits     int64  `json:"debits"`
			DebitCount uint64 `json:"debit_count"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(l.admin(t, "device", "list", "--data", l.data, "--json")), &devs); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID == id {
			return d.HighWater, d.Stats.Debits, d.Stats.DebitCount
		}
	}
	t.Fatalf("the ledger does not know device %s", id)
	return 0, 0, 0
}

// device is the directory of a configured POS: its configuration (a
// canteen window at 12.50 on a virtual reader, the software SAM), its
// store and keys, and its virtual cards.
type deviceDir struct {
	id, dir, config string
}

// newDevice writes a POS configuration syncing with ledger (ledger_key
// pinned; sync.interval interval) and issues the demo cards names into
// its cards directory.
func newDevice(t *testing.T, l *ledgerd, interval string, names ...string) deviceDir {
	t.Helper()
	d := deviceDir{id: "POS-RIG-01", dir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(d.dir, "sam.json"), sam.TestKeyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(d.dir, "cards"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		c, err := sim.NewDemoCard(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Save(filepath.Join(d.dir, "cards", name+".json")); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`[device]
id = %q
kind = "pos"
data_dir = %q
sam = "soft:%s"
timezone = "Asia/Shanghai"
log_format = "text"
log_level = "info"

[[reader]]
name = "sim:window"
driver = "sim"

[board]
backend = "fake"

[pos]
mode = "fixed"
price_fen = 1250
repeat_guard = "3s"

[sync]
ledger = %q
insecure = true
ledger_key = %q
interval = %q
min_backoff = "200ms"
max_backoff = "1s"
timeout = "10m"

[control]
listen = "127.0.0.1:0"
`, d.id, d.dir, filepath.Join(d.dir, "sam.json"), l.url, l.fingerprint, interval)
	d.config = filepath.Join(d.dir, "pos.toml")
	if err := os.WriteFile(d.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// balance returns the balance of the device's virtual card name, as its
// file holds it.
func (d deviceDir) balance(t *testing.T, name string) int64 {
	t.Helper()
	c, err := sim.LoadCard(filepath.Join(d.dir, "cards", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return int64(c.Status().Balance)
}

var controlAt = regexp.MustCompile(`msg="yktd: running" .*control=(\S+)`)

// controlOf waits for a `yktd run --config` process to serve its control
// interface and returns its address.
func controlOf(t *testing.T, p *proc) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := controlAt.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-p.done:
			p.done <- code
			t.Fatalf("yktd exited with %d before it ran\nstderr:\n%s", code, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("yktd did not start within a minute\nstderr:\n%s", p.stderr.String())
	return ""
}

// control sends one request (GET or POST) to the control interface at addr
// of the daemon whose data directory is dataDir (body and the answer JSON;
// out may be nil) and wants 200. Every control call of the real-process
// tests goes through it, on terminal.ControlClient: the one place that
// knows how the interface is reached and what authority it wants.
func control(t *testing.T, dataDir, addr, method, path string, body, out any) {
	t.Helper()
	c, err := terminal.NewControlClient(dataDir, addr)
	if err != nil {
		t.Fatal(err)
	}
	switch method {
	case http.MethodGet:
		err = c.Get(context.Background(), path, out)
	case http.MethodPost:
		err = c.Post(context.Background(), path, body, out)
	default:
		t.Fatalf("control: method %s", method)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// rigCtl drives one running daemon through its control interface.
type rigCtl struct {
	t    *testing.T
	dir  string // the daemon's data directory
	addr string
	seen uint64
}

// tap puts the virtual card name on the reader, waits for the daemon's
// record of the tap, takes the card away and returns the record.
func (c *rigCtl) tap(name string) terminal.TapRecord {
	c.t.Helper()
	control(c.t, c.dir, c.addr, http.MethodPost, "/sim/readers/sim:window/tap", map[string]string{"card": name}, nil)
	defer control(c.t, c.dir, c.addr, http.MethodPost, "/sim/readers/sim:window/remove", nil, nil)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var recs []terminal.TapRecord
		control(c.t, c.dir, c.addr, http.MethodGet, fmt.Sprintf("/v1/taps?after=%d&wait=5s", c.seen), nil, &recs)
		if len(recs) > 0 {
			c.seen = recs[0].N
			return recs[0]
		}
	}
	c.t.Fatalf("no tap of %s reported within a minute", name)
	return terminal.TapRecord{}
}

// health returns GET /v1/health.
func (c *rigCtl) health() terminal.Health {
	c.t.Helper()
	var h terminal.Health
	control(c.t, c.dir, c.addr, http.MethodGet, "/v1/health", nil, &h)
	return h
}

// awaitHealth polls the health until ok accepts it (a minute at most).
func (c *rigCtl) awaitHealth(what string, ok func(terminal.Health) bool) terminal.Health {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var h terminal.Health
	for time.Now().Before(deadline) {
		if h = c.health(); ok(h) {
			return h
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("health never %s: %+v", what, h)
	return h
}
