package terminal_test

import (
	"context"
	"encoding/json"
	"errors"
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
		Display: disp, Keypad: disp, Control: ctl, Now: r.clock.Now, Version: "test-1.2.3",
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
		{"POST", "/sim/cards/student/faults", `{"kind":"tear-after","ins":"debit","nth":1}`},
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
	// docs/control.md has a section for each.
	doc, err := os.ReadFile(filepath.Join("..", "docs", "control.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range index.Endpoints {
		heading := "### `" + e.Method + " " + e.Path
		if e.Method == "*" {
			heading = "### `" + e.Path
		}
		if !strings.Contains(string(doc), heading) {
			t.Errorf("docs/control.md has no section %s`", heading)
		}
	}
	if st, _ := r.call("GET", "/v1/nothing", nil, ""); st != http.StatusNotFound {
		t.Errorf("GET /v1/nothing: %d, want 404", st)
	}
}

// TestControlClient: terminal.ControlClient is the owner's way in: with the
// credential the daemon wrote (0600, new at every start) on TCP, without
// one on the unix socket; refusals come back as *ControlError.
func TestControlClient(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", withCashier(t))
	fi, err := os.Stat(filepath.Join(r.dir, terminal.ControlTokenName))
	if err != nil || fi.Mode().Perm() != 0o600 || len(r.token()) != 64 {
		t.Fatalf("control token: %v, %v, %d characters", fi, err, len(r.token()))
	}
	if r.d.ControlTokenPath() != filepath.Join(r.dir, terminal.ControlTokenName) {
		t.Errorf("ControlTokenPath %q", r.d.ControlTokenPath())
	}
	other := startCtlRig(t, "127.0.0.1:0", nil)
	if other.token() == r.token() {
		t.Error("two daemons made the same credential")
	}

	ctx := context.Background()
	c, err := terminal.NewControlClient(r.dir, r.d.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Post(ctx, "/sim/readers/sim:pos/tap", map[string]string{"card": "student"}, nil); err != nil {
		t.Fatal(err)
	}
	recs, err := c.Taps(ctx, 0, 10*time.Second)
	if err != nil || len(recs) != 1 || recs[0].Card != sim.DemoStudentNo || recs[0].Outcome != "paid" {
		t.Fatalf("taps %+v, %v", recs, err)
	}
	if err := c.Post(ctx, "/sim/readers/sim:pos/remove", nil, nil); err != nil {
		t.Fatal(err)
	}
	var cerr *terminal.ControlError
	a, err := c.CancelLast(ctx, "1111")
	if !errors.As(err, &cerr) || cerr.Status != http.StatusForbidden || cerr.Code != "cashier_pin_wrong" || a.Code != "cashier_pin_wrong" || a.AttemptsLeft != 4 {
		t.Errorf("wrong PIN: %+v, %v", a, err)
	}
	if a, err := c.CancelLast(ctx, cashierPIN); err != nil || a.Outcome != "cancelled" || a.Intent != recs[0].Intent || a.Card != sim.DemoStudentNo {
		t.Errorf("cancel: %+v, %v", a, err)
	}
	// Another daemon's credential is wrong here.
	wrong, err := terminal.NewControlClient(other.dir, r.d.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.Post(ctx, "/v1/inputs/fire", map[string]bool{"active": true}, nil); !errors.As(err, &cerr) || cerr.Code != terminal.CtlCredentialWrong {
		t.Errorf("another daemon's credential: %v", err)
	}
	if _, err := terminal.NewControlClient(t.TempDir(), r.d.ControlAddr()); err == nil {
		t.Error("a client with no credential file: no error")
	}

	u := startCtlRig(t, "unix:control.sock", nil)
	for _, addr := range []string{u.d.ControlAddr(), "unix:" + u.d.ControlAddr()} {
		c, err := terminal.NewControlClient("", addr)
		if err != nil {
			t.Fatal(err)
		}
		var cards []sim.CardInfo
		if err := c.Get(ctx, "/sim/cards", &cards); err != nil || len(cards) != 1 {
			t.Errorf("GET /sim/cards over %s: %+v, %v", addr, cards, err)
		}
	}
	if u.d.ControlTokenPath() != "" {
		t.Errorf("ControlTokenPath on a unix socket: %q, want none", u.d.ControlTokenPath())
	}
}
