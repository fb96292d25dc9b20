package terminal_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// ctlRig is a running POS daemon with its control interface, a simulated
// reader (also mounted under /sim/) and a student card, in t.TempDir().
type ctlRig struct {
	t     *testing.T
	d     *terminal.Daemon
	dir   string // the store's directory: the control token is written here
	store string
	rdr   *sim.Reader
	card  *sim.Card
	base  string // http://ADDR, or http://localhost for a unix socket
	hc    *http.Client
	done  chan error
	stop  context.CancelFunc
	clock *offlinetest.Clock // the daemon's clock, from the wall clock at the start
	logs  *syncBuffer        // the daemon's log, every level
}

// syncBuffer is an io.Writer the daemon's goroutines share with the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newCtlRig makes the daemon (the control interface listens on listen;
// "unix:" + a file name means a socket in the rig's directory) without
// running it; edit changes the configuration first.
func newCtlRig(t *testing.T, listen string, edit func(*config.Config)) (*ctlRig, error) {
	t.Helper()
	dir := t.TempDir()
	if name, ok := strings.CutPrefix(listen, "unix:"); ok && !filepath.IsAbs(name) {
		listen = "unix:" + filepath.Join(dir, name)
	}
	r := &ctlRig{t: t, dir: dir, store: filepath.Join(dir, "yktd.db"), done: make(chan error, 1),
		clock: offlinetest.NewClock(time.Now()), logs: &syncBuffer{}}
	store, err := offline.Open(r.store, offline.Options{DeviceID: "pos-daemon-01"})
	if err != nil {
		t.Fatal(err)
	}
	// A status list is held (no card is listed): the POS may sell.
	if err := store.ApplySnapshot(offline.StatusSnapshot{Version: 1}); err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemonConfig(listen)
	if edit != nil {
		edit(cfg)
	}
	r.rdr = sim.NewReader("sim:pos", reader.TechISO14443A)
	r.card = demoCard(t, "student", "", 0)
	ctl := sim.NewControl()
	ctl.AddReader(r.rdr)
	ctl.AddCard("student", r.card)
	disp := uitest.New()
	r.d, err = terminal.NewDaemon(cfg, terminal.DaemonDeps{Store: store, Readers: []reader.Reader{r.rdr}, SAM: s,
		Display: disp, Keypad: disp, Control: ctl, Now: r.clock.Now,
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	addr := r.d.ControlAddr()
	r.hc = &http.Client{Timeout: 30 * time.Second}
	r.base = "http://" + addr
	if path, ok := strings.CutPrefix(cfg.Control.Listen, "unix:"); ok {
		r.base = "http://localhost"
		r.hc.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}
	}
	return r, nil
}

// startCtlRig makes the daemon and runs it until the test ends.
func startCtlRig(t *testing.T, listen string, edit func(*config.Config)) *ctlRig {
	t.Helper()
	r, err := newCtlRig(t, listen, edit)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() { r.done <- r.d.Run(ctx) }()
	t.Cleanup(func() { r.shutdown() })
	return r
}

// shutdown stops the daemon and waits for it (once).
func (r *ctlRig) shutdown() {
	r.t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.t.Fatal("the daemon did not stop")
	}
}

// sell taps the student card and waits for the sale.
func (r *ctlRig) sell() terminal.TapRecord {
	r.t.Helper()
	n := len(r.d.Taps(0))
	r.rdr.Tap(r.card)
	defer r.rdr.Remove()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if recs := r.d.Taps(0); len(recs) > n {
			if rec := recs[len(recs)-1]; rec.Outcome != "paid" {
				r.t.Fatalf("the student's tap: %+v", rec)
			}
			return recs[len(recs)-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatal("no sale within 30s")
	return terminal.TapRecord{}
}

// token reads the control credential the daemon wrote.
func (r *ctlRig) token() string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "control.token"))
	if err != nil {
		r.t.Fatalf("the daemon's control credential: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// call sends one request with the given headers ("Host" sets the Host
// header) and returns the status and the raw answer.
func (r *ctlRig) call(method, path string, hdr map[string]string, body string) (int, string) {
	r.t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// code is the "code" of a JSON answer.
func code(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer %q is not JSON: %v", body, err)
	}
	return v.Code
}

// reversals counts the purchase-reversed records in the stopped daemon's
// journal.
func (r *ctlRig) reversals() int {
	r.t.Helper()
	r.shutdown()
	s, err := offline.Open(r.store, offline.Options{ReadOnly: true})
	if err != nil {
		r.t.Fatal(err)
	}
	defer s.Close()
	h, err := s.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	es, err := s.Records(0, int(h.Seq))
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Record.Kind == protocol.KindPurchaseReversed {
			n++
		}
	}
	return n
}

// TestControlRefusesForeignOrigin: a web page in the kiosk browser posts
// to the control interface (it knows no credential, but even with one a
// cross-site request is refused): 403, and no sale is reversed.
func TestControlRefusesForeignOrigin(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	r.sell()
	for _, origin := range []string{"http://evil.example", "null", "http://127.0.0.1:1", "https://" + r.d.ControlAddr()} {
		st, body := r.call("POST", "/v1/cancel-last", map[string]string{"Origin": origin}, `{"pin":"1234"}`)
		if st != http.StatusForbidden || code(t, body) != "foreign_origin" {
			t.Errorf("POST /v1/cancel-last from Origin %s: %d %s, want 403 foreign_origin", origin, st, body)
		}
	}
	st, body := r.call("POST", "/v1/cancel-last", map[string]string{"Sec-Fetch-Site": "cross-site"}, `{"pin":"1234"}`)
	if st != http.StatusForbidden || code(t, body) != "foreign_origin" {
		t.Errorf("POST /v1/cancel-last with Sec-Fetch-Site cross-site: %d %s, want 403", st, body)
	}
	if n := r.reversals(); n != 0 {
		t.Errorf("%d sales reversed by a foreign page", n)
	}
}

// TestControlRefusesWrongHost: DNS rebinding (a page's own name resolving
// to 127.0.0.1) arrives with that name in Host: refused on every endpoint,
// the open ones included.
func TestControlRefusesWrongHost(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	_, port, _ := net.SplitHostPort(r.d.ControlAddr())
	for _, host := range []string{"evil.example:" + port, "evil.example", "yktd", "127.0.0.1:1", "127.0.0.2:" + port, "[::1]:" + port} {
		for _, path := range []string{"/v1/health", "/v1/taps", "/"} {
			st, body := r.call("GET", path, map[string]string{"Host": host}, "")
			if st != http.StatusForbidden || code(t, body) != "bad_host" {
				t.Errorf("GET %s with Host %s: %d %s, want 403 bad_host", path, host, st, body)
			}
		}
		st, body := r.call("POST", "/v1/cancel-last", map[string]string{"Host": host}, `{"pin":"1234"}`)
		if st != http.StatusForbidden || code(t, body) != "bad_host" {
			t.Errorf("POST /v1/cancel-last with Host %s: %d %s, want 403 bad_host", host, st, body)
		}
	}
	for _, host := range []string{r.d.ControlAddr(), "localhost:" + port, "LOCALHOST:" + port} {
		if st, body := r.call("GET", "/v1/health", map[string]string{"Host": host}, ""); st != http.StatusOK {
			t.Errorf("GET /v1/health with Host %s: %d %s, want 200", host, st, body)
		}
	}
}

// TestControlNeedsCredential: on loopback TCP every call that changes
// state or money needs the device credential; without it, or with a wrong
// one, 401 and nothing moves.
func TestControlNeedsCredential(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	r.sell()
	calls := []struct{ method, path, body string }{
		{"POST", "/v1/cancel-last", `{"pin":"1234"}`},
		{"POST", "/v1/inputs/fire", `{"active":true}`},
		{"POST", "/sim/readers/sim:pos/tap", `{"card":"student"}`},
		{"POST", "/sim/readers/sim:pos/remove", ""},
		{"POST", "/sim/cards/student/faults", `{"kind":"tear","ins":"debit","nth":1}`},
		{"DELETE", "/sim/cards/student/faults", ""},
		{"GET", "/sim/cards", ""},
	}
	for _, c := range calls {
		for auth, want := range map[string]string{
			"":                                       "credential_required",
			"Bearer " + strings.Repeat("0", 64):      "credential_wrong",
			"Basic dXNlcjpwYXNz":                     "credential_required",
			"Bearer":                                 "credential_required",
			"Bearer " + r.token() + "0":              "credential_wrong",
			"Bearer " + r.token()[:len(r.token())-1]: "credential_wrong",
		} {
			hdr := map[string]string{}
			if auth != "" {
				hdr["Authorization"] = auth
			}
			st, body := r.call(c.method, c.path, hdr, c.body)
			if st != http.StatusUnauthorized || code(t, body) != want {
				t.Errorf("%s %s with Authorization %q: %d %s, want 401 %s", c.method, c.path, auth, st, body, want)
			}
		}
	}
	if n := r.reversals(); n != 0 {
		t.Errorf("%d sales reversed without the credential", n)
	}
	if r.rdr.Card() != nil {
		t.Error("a card was tapped without the credential")
	}
}

// TestControlTapsHideCardNumbers: GET /v1/taps answers anyone (the Host
// and Origin checks aside) but names the cards only to the credential's
// holder; /v1/health never names one.
func TestControlTapsHideCardNumbers(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	sale := r.sell()
	st, body := r.call("GET", "/v1/taps?after=0", nil, "")
	if st != http.StatusOK || !strings.Contains(body, `"outcome":"paid"`) {
		t.Fatalf("GET /v1/taps without the credential: %d %s, want 200 with the sale", st, body)
	}
	if strings.Contains(body, sale.Card) || strings.Contains(body, `"card"`) {
		t.Errorf("GET /v1/taps without the credential names the card: %s", body)
	}
	st, body = r.call("GET", "/v1/taps?after=0", map[string]string{"Authorization": "Bearer " + r.token()}, "")
	if st != http.StatusOK || !strings.Contains(body, sale.Card) {
		t.Errorf("GET /v1/taps with the credential: %d %s, want the card %s", st, body, sale.Card)
	}
	st, body = r.call("GET", "/v1/health", nil, "")
	if st != http.StatusOK || strings.Contains(body, sale.Card) {
		t.Errorf("GET /v1/health without the credential: %d %s", st, body)
	}
}

// TestControlCancelLastNoCashier: a POS with no cashier PIN configured
// refuses cancel-last with a reason, even to the credential's holder.
func TestControlCancelLastNoCashier(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	r.sell()
	st, body := r.call("POST", "/v1/cancel-last", map[string]string{"Authorization": "Bearer " + r.token()}, `{"pin":"1234"}`)
	if st != http.StatusForbidden || code(t, body) != "no_cashier" || !strings.Contains(body, "cashier_pin_hash") {
		t.Errorf("cancel-last with no cashier configured: %d %s, want 403 no_cashier naming pos.cashier_pin_hash", st, body)
	}
	if n := r.reversals(); n != 0 {
		t.Errorf("%d sales reversed with no cashier configured", n)
	}
}

// TestControlUnixSocketMode: the socket is 0600 while the daemon runs, is
// served without a credential (the file's mode is the authority), leaves
// nothing else in its directory, and is removed at the stop.
func TestControlUnixSocketMode(t *testing.T) {
	r := startCtlRig(t, "unix:control.sock", nil)
	path := filepath.Join(r.dir, "control.sock")
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with 0600", fi.Mode())
	}
	if r.d.ControlAddr() != path {
		t.Errorf("ControlAddr %q, want %q", r.d.ControlAddr(), path)
	}
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); n != "control.sock" && n != "yktd.db" {
			t.Errorf("the control interface left %s in its directory", n)
		}
	}
	if st, body := r.call("POST", "/sim/readers/sim:pos/tap", nil, `{"card":"student"}`); st != http.StatusOK {
		t.Errorf("tap over the unix socket without a credential: %d %s", st, body)
	}
	r.shutdown()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after the stop: %v", err)
	}
}

// TestControlUnixSocketKeepsForeignFiles: what is at the socket's path and
// is not a stale socket of ours is never removed: the daemon refuses to
// start with a reason, and the file stays as it was.
func TestControlUnixSocketKeepsForeignFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, path string) func(t *testing.T) // returns the check that it is intact
		wants string
	}{
		{"regular file", func(t *testing.T, path string) func(*testing.T) {
			if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
					t.Errorf("the file at the socket path: %q, %v", b, err)
				}
			}
		}, "not a socket"},
		{"directory", func(t *testing.T, path string) func(*testing.T) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if fi, err := os.Lstat(path); err != nil || !fi.IsDir() {
					t.Errorf("the directory at the socket path: %v, %v", fi, err)
				}
			}
		}, "not a socket"},
		{"symlink", func(t *testing.T, path string) func(*testing.T) {
			target := filepath.Join(filepath.Dir(path), "target")
			if err := os.WriteFile(target, []byte("kept"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if l, err := os.Readlink(path); err != nil || l != target {
					t.Errorf("the symlink at the socket path: %q, %v", l, err)
				}
			}
		}, "not a socket"},
		{"live socket", func(t *testing.T, path string) func(*testing.T) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, "live")
					c.Close()
				}
			}()
			return func(t *testing.T) {
				c, err := net.Dial("unix", path)
				if err != nil {
					t.Errorf("the live socket no longer answers: %v", err)
					return
				}
				defer c.Close()
				if b, _ := io.ReadAll(c); string(b) != "live" {
					t.Errorf("the socket at the path answers %q: not the one that was there", b)
				}
			}
		}, "answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "control.sock")
			intact := tc.make(t, path)
			r, err := newCtlRig(t, "unix:"+path, nil)
			if err == nil {
				r.stop = func() {}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = r.d.Run(ctx)
				t.Fatalf("NewDaemon with a %s at the socket path: started", tc.name)
			}
			if !strings.Contains(err.Error(), tc.wants) || !strings.Contains(err.Error(), path) {
				t.Errorf("NewDaemon with a %s at the socket path: %v, want it to say %q and name the path", tc.name, err, tc.wants)
			}
			intact(t)
		})
	}
}

// TestControlUnixSocketStale: a socket nobody answers on (a daemon killed
// with -9 left it) is replaced.
func TestControlUnixSocketStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	r, err := newCtlRig(t, "unix:"+path, nil)
	if err != nil {
		t.Fatalf("NewDaemon over a stale socket: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() { r.done <- r.d.Run(ctx) }()
	defer r.shutdown()
	if st, body := r.call("GET", "/v1/health", nil, ""); st != http.StatusOK {
		t.Errorf("health over the new socket: %d %s", st, body)
	}
}

// TestControlUnixSocketShutdownKeepsReplacement: at the stop the daemon
// removes its own socket only: a file someone put in its place stays.
func TestControlUnixSocketShutdownKeepsReplacement(t *testing.T) {
	r := startCtlRig(t, "unix:control.sock", nil)
	path := filepath.Join(r.dir, "control.sock")
	if st, _ := r.call("GET", "/v1/health", nil, ""); st != http.StatusOK {
		t.Fatal("the control socket does not answer")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.shutdown()
	if b, err := os.ReadFile(path); err != nil || string(b) != "someone else's" {
		t.Errorf("the file put in the socket's place after the stop: %q, %v", b, err)
	}
}

// TestControlIndexListsEndpoints: GET / names every endpoint, and each
// one it names is served (not 404 or 405), so the list cannot drift from
// the routes.
func TestControlIndexListsEndpoints(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	st, body := r.call("GET", "/", nil, "")
	if st != http.StatusOK {
		t.Fatalf("GET /: %d %s", st, body)
	}
	var index struct {
		Endpoints []struct {
			Method, Path, Access, Doc string
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(body), &index); err != nil {
		t.Fatalf("GET / %s: %v", body, err)
	}
	seen := map[string]bool{}
	auth := map[string]string{"Authorization": "Bearer " + r.token()}
	for _, e := range index.Endpoints {
		seen[e.Method+" "+e.Path] = true
		if e.Doc == "" || e.Access == "" {
			t.Errorf("endpoint %s %s: no doc or access: %+v", e.Method, e.Path, e)
		}
		method, path := e.Method, strings.ReplaceAll(e.Path, "{name}", "no_such")
		if method == "" || method == "*" {
			method = "GET"
		}
		if strings.HasSuffix(path, "/") && path != "/" {
			path += "cards"
		}
		st, body := r.call(method, path, auth, "{}")
		if st == http.StatusNotFound && !strings.Contains(body, "no_such") || st == http.StatusMethodNotAllowed {
			t.Errorf("%s %s listed by GET / answers %d %s", method, path, st, body)
		}
	}
	for _, want := range []string{"GET /", "GET /v1/health", "GET /v1/taps", "POST /v1/inputs/{name}", "POST /v1/cancel-last", "* /sim/"} {
		if !seen[want] {
			t.Errorf("GET / does not list %s: %s", want, body)
		}
	}
	if st, _ := r.call("GET", "/v1/nothing", nil, ""); st != http.StatusNotFound {
		t.Errorf("GET /v1/nothing: %d, want 404", st)
	}
}

// cashierPIN is the rig's cashier PIN; withCashier configures its hash.
const cashierPIN = "2580"

func withCashier(t *testing.T) func(*config.Config) {
	h, err := config.HashPIN(cashierPIN, config.MinPINIterations)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.POS.CashierPINHash = h }
}

// cancelAnswer is the JSON answer of POST /v1/cancel-last.
type cancelAnswer struct {
	Outcome, Code, Card, Error string
	Amount                     int64
	Intent                     uint64
	AttemptsLeft               int `json:"attempts_left"`
	RetryAfter                 int `json:"retry_after_seconds"`
}

func (r *ctlRig) cancel(pin string) (int, cancelAnswer, string) {
	r.t.Helper()
	hdr := map[string]string{}
	if !strings.HasPrefix(r.base, "http://localhost") {
		hdr["Authorization"] = "Bearer " + r.token()
	}
	body, _ := json.Marshal(map[string]string{"pin": pin})
	st, raw := r.call("POST", "/v1/cancel-last", hdr, string(body))
	var a cancelAnswer
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		r.t.Fatalf("cancel-last answer %q: %v", raw, err)
	}
	return st, a, raw
}

// TestControlCancelLastCashier: the cashier's PIN cancels the last sale and
// the answer names the card, the amount and the intent; no PIN or a wrong
// one is refused with its code and reverses nothing.
func TestControlCancelLastCashier(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	sale := r.sell()
	if st, a, raw := r.cancel(""); st != http.StatusForbidden || a.Code != "cashier_pin_required" || a.Card != "" {
		t.Errorf("cancel-last without a PIN: %d %s, want 403 cashier_pin_required naming no card", st, raw)
	}
	st, a, raw := r.cancel("2581")
	if st != http.StatusForbidden || a.Code != "cashier_pin_wrong" || a.AttemptsLeft != 4 || a.Card != "" {
		t.Errorf("cancel-last with a wrong PIN: %d %s, want 403 cashier_pin_wrong, 4 attempts left, no card", st, raw)
	}
	st, a, raw = r.cancel(cashierPIN)
	if st != http.StatusOK || a.Outcome != "cancelled" || a.Code != "sale_cancelled" || a.Card != sale.Card ||
		a.Amount != 1250 || a.Intent != sale.Intent {
		t.Errorf("cancel-last with the cashier's PIN: %d %s, want the sale %+v reversed", st, raw, sale)
	}
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusOK || a.Outcome != "refused" || a.Code != "already_cancelled" {
		t.Errorf("second cancel-last: %d %s, want refused already_cancelled", st, raw)
	}
	if logs := r.logs.String(); strings.Contains(logs, cashierPIN) || strings.Contains(logs, "2581") {
		t.Errorf("a PIN reached the log:\n%s", logs)
	}
	if n := r.reversals(); n != 1 {
		t.Errorf("%d reversals journaled, want 1", n)
	}
}

// TestControlCancelLastLockout: five wrong PINs lock the cashier out; while
// locked even the right PIN is refused (429 with Retry-After); after the
// lockout the right PIN works, and a new run of wrong ones locks longer.
func TestControlCancelLastLockout(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	sale := r.sell()
	for i := 4; i >= 0; i-- {
		st, a, raw := r.cancel("0000")
		want := http.StatusForbidden
		if i == 0 {
			want = http.StatusTooManyRequests
		}
		if st != want || (i > 0 && (a.Code != "cashier_pin_wrong" || a.AttemptsLeft != i)) || (i == 0 && a.Code != "cashier_locked") {
			t.Fatalf("wrong PIN, %d attempts left: %d %s", i, st, raw)
		}
	}
	st, a, raw := r.cancel(cashierPIN)
	if st != http.StatusTooManyRequests || a.Code != "cashier_locked" || a.RetryAfter != 300 {
		t.Errorf("the right PIN while locked out: %d %s, want 429 cashier_locked retry after 300s", st, raw)
	}
	r.clock.Advance(5*time.Minute - time.Second)
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusTooManyRequests || a.Code != "cashier_locked" || a.RetryAfter != 1 {
		t.Errorf("the right PIN a second before the end of the lockout: %d %s", st, raw)
	}
	r.clock.Advance(time.Second)
	// The sale is older than the cancel window now: the PIN is accepted,
	// and the sale refused as too late.
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusOK || a.Code != "cancel_expired" || a.Intent != sale.Intent {
		t.Errorf("the right PIN after the lockout: %d %s, want 200 cancel_expired", st, raw)
	}
	// The right PIN reset the count: five more wrong ones lock again.
	for i := 0; i < 5; i++ {
		r.cancel("0000")
	}
	if st, a, _ := r.cancel(cashierPIN); st != http.StatusTooManyRequests || a.RetryAfter != 300 {
		t.Errorf("after five more wrong PINs: %d %+v, want locked for 300s", st, a)
	}
	r.clock.Advance(5 * time.Minute)
	r.cancel("0000") // one wrong PIN right after a lockout locks again, longer
	if st, a, _ := r.cancel(cashierPIN); st != http.StatusTooManyRequests || a.RetryAfter != 600 {
		t.Errorf("a wrong PIN right after a lockout: %d %+v, want locked for 600s", st, a)
	}
	if n := r.reversals(); n != 0 {
		t.Errorf("%d reversals journaled", n)
	}
}

// TestControlCancelLastUnixSocket: the unix socket needs no credential, but
// the cashier's PIN still.
func TestControlCancelLastUnixSocket(t *testing.T) {
	r := startCtlRig(t, "unix:control.sock", withCashier(t))
	sale := r.sell()
	if st, a, raw := r.cancel("1111"); st != http.StatusForbidden || a.Code != "cashier_pin_wrong" {
		t.Errorf("cancel-last over the socket with a wrong PIN: %d %s", st, raw)
	}
	if st, a, raw := r.cancel(cashierPIN); st != http.StatusOK || a.Code != "sale_cancelled" || a.Intent != sale.Intent {
		t.Errorf("cancel-last over the socket with the PIN: %d %s", st, raw)
	}
}

// TestControlCancelLastKeepsPINSecret: a malformed body carrying a PIN is
// refused without quoting it, in the answer and in the log.
func TestControlCancelLastKeepsPINSecret(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	r.sell()
	auth := map[string]string{"Authorization": "Bearer " + r.token()}
	for _, body := range []string{`{"pin": 97531}`, `{"pin": "97531"`, `{"pin": "97531", "pin": x97531}`, `97531`,
		`{"pin": "97531", "extra": 1}`, `{"pin": "` + strings.Repeat("97531", 400) + `"}`} {
		st, raw := r.call("POST", "/v1/cancel-last", auth, body)
		if st != http.StatusBadRequest || code(t, raw) != "bad_request" {
			t.Errorf("cancel-last with body %.40s: %d %s, want 400 bad_request", body, st, raw)
		}
		if strings.Contains(raw, "9753") {
			t.Errorf("the answer quotes the PIN: %s", raw)
		}
	}
	if st, a, raw := r.cancel("97531"); st != http.StatusForbidden || a.Code != "cashier_pin_wrong" || strings.Contains(raw, "97531") {
		t.Errorf("wrong PIN: %d %s", st, raw)
	}
	if logs := r.logs.String(); strings.Contains(logs, "9753") {
		t.Errorf("the PIN reached the log:\n%s", logs)
	}
}
