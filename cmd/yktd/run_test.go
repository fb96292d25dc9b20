package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/gate"
)

// lockedBuffer is an io.Writer the daemon's goroutines share with the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemonRun is one `yktd run` running in-process.
type daemonRun struct {
	stop   context.CancelFunc
	done   chan int
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// startRun runs `yktd args...` in-process with runEnv replaced: stdin is
// stdin (nil: a console that never types), and the interrupt context is
// one the test cancels with stop (bounded by limit as a safety net).
func startRun(t *testing.T, limit time.Duration, stdin io.Reader, args ...string) *daemonRun {
	t.Helper()
	old := runEnv
	t.Cleanup(func() { runEnv = old })
	if stdin == nil {
		pr, pw := io.Pipe()
		t.Cleanup(func() { _ = pw.Close() })
		stdin = pr
	}
	r := &daemonRun{done: make(chan int, 1), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	stopped := make(chan struct{})
	var once sync.Once
	r.stop = func() { once.Do(func() { close(stopped) }) }
	runEnv.stdin = stdin
	runEnv.interrupt = func(ctx context.Context) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(ctx, limit)
		go func() {
			select {
			case <-stopped:
				cancel()
			case <-ctx.Done():
			}
		}()
		return ctx, cancel
	}
	go func() { r.done <- run(args, r.stdout, r.stderr) }()
	t.Cleanup(func() {
		r.stop()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("yktd run did not stop within 30s of its context ending")
		}
	})
	return r
}

// wait stops the daemon and returns its exit code.
func (r *daemonRun) wait(t *testing.T) int {
	t.Helper()
	r.stop()
	select {
	case code := <-r.done:
		r.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("yktd run did not stop within 30s\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	return -1
}

// controlAddr waits for dir/control.addr, written when the daemon started.
func controlAddr(t testing.TB, dir string, done chan int) string {
	t.Helper()
	path := filepath.Join(dir, "control.addr")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			return strings.TrimSpace(string(b))
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("yktd run exited with %d before writing %s", code, path)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s not written within 60s", path)
	return ""
}

// ctlClient talks to a daemon's control interface with its credential
// (terminal.ControlClient), failing the test where asked.
type ctlClient struct {
	t testing.TB
	c *terminal.ControlClient
}

// newCtl is the client of the control interface at addr of the daemon
// whose data directory is dir (where it wrote its credential).
func newCtl(t testing.TB, dir, addr string) *ctlClient {
	t.Helper()
	c, err := terminal.NewControlClient(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	return &ctlClient{t: t, c: c}
}

// post sends a JSON body and fails the test unless the answer is 200.
func (c *ctlClient) post(path string, body any) {
	c.t.Helper()
	if err := c.tryPost(path, body); err != nil {
		c.t.Fatal(err)
	}
}

func (c *ctlClient) tryPost(path string, body any) error {
	return c.postInto(path, body, nil)
}

// postInto sends a JSON body, wants 200 and decodes the answer into out
// (unless nil).
func (c *ctlClient) postInto(path string, body, out any) error {
	return c.c.Post(context.Background(), path, body, out)
}

// tryDelete sends DELETE path and wants 200.
func (c *ctlClient) tryDelete(path string) error {
	return c.c.Delete(context.Background(), path)
}

// health answers GET /v1/health.
func (c *ctlClient) health() terminal.Health {
	c.t.Helper()
	var h terminal.Health
	if err := c.c.Get(context.Background(), "/v1/health", &h); err != nil {
		c.t.Fatalf("GET /v1/health: %v", err)
	}
	return h
}

// taps long-polls GET /v1/taps?after=N&wait=W.
func (c *ctlClient) taps(after uint64, wait time.Duration) ([]terminal.TapRecord, error) {
	return c.c.Taps(context.Background(), after, wait)
}

// awaitTaps waits until the daemon reported at least n taps in all.
func (c *ctlClient) awaitTaps(n int, within time.Duration) []terminal.TapRecord {
	c.t.Helper()
	var all []terminal.TapRecord
	deadline := time.Now().Add(within)
	for len(all) < n && time.Now().Before(deadline) {
		var after uint64
		if len(all) > 0 {
			after = all[len(all)-1].N
		}
		recs, err := c.taps(after, 5*time.Second)
		if err != nil {
			c.t.Fatal(err)
		}
		all = append(all, recs...)
	}
	if len(all) < n {
		c.t.Fatalf("%d taps reported within %v, want %d: %+v", len(all), within, n, all)
	}
	return all
}

// journal opens the store a stopped daemon left and returns its verified
// records.
func journal(t *testing.T, path string) []offline.Entry {
	t.Helper()
	s, err := offline.Open(path, offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Verify()
	if err != nil {
		t.Fatalf("journal does not verify: %v", err)
	}
	if res.First != 1 || res.Count != res.Head.Seq {
		t.Fatalf("journal has a gap: %d records from %d to %d", res.Count, res.First, res.Head.Seq)
	}
	ins, err := s.Intents()
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 0 {
		t.Errorf("intents left after a clean stop: %+v", ins)
	}
	es, err := s.Records(0, int(res.Head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// paidByCard sums the completed purchases of the journal by card number.
func paidByCard(es []offline.Entry) (sum map[string]int64, n map[string]int) {
	sum, n = map[string]int64{}, map[string]int{}
	for _, e := range es {
		if e.Record.Kind == protocol.KindPurchaseCompleted {
			sum[e.Record.CardNo] += e.Record.Amount
			n[e.Record.CardNo]++
		}
	}
	return sum, n
}

func demoBalance(t *testing.T, name string) int64 {
	t.Helper()
	for _, d := range sim.Catalogue() {
		if d.Name == name {
			return int64(d.Balance)
		}
	}
	t.Fatalf("no demo card %s", name)
	return 0
}

func cardStatus(t *testing.T, dir, name string) sim.Status {
	t.Helper()
	c, err := sim.LoadCard(filepath.Join(dir, "cards", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return c.Status()
}

// TestRunSimPOSSellsAndRefuses runs the demo canteen POS with its own
// tapper until every demo card was tapped, stops it like SIGTERM does and
// checks the screen, the journal and the cards.
func TestRunSimPOSSellsAndRefuses(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--auto", "200ms", "--dir", dir, "--no-ledger")
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	recs := ctl.awaitTaps(len(simCards), time.Minute)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	out := r.stdout.String()
	for _, want := range []string{
		"交易成功", "Approved", "余额 Balance 87.50", // the student's sale with the new balance
		"挂失卡", "Card reported lost", // the lost card, refused by the status list
		"余额不足", "Insufficient balance", // 5.00 yuan for a 12.50 meal
		"卡已过期", "Card expired",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	codes := map[string]string{}
	for _, rec := range recs[:len(simCards)] {
		codes[rec.Card] = rec.Outcome + "/" + rec.Code
	}
	for no, want := range map[string]string{sim.DemoStudentNo: "paid/ok", sim.DemoLostNo: "refused/lost",
		sim.DemoLowBalanceNo: "refused/insufficient", sim.DemoStaffNo: "paid/ok", sim.DemoExpiredNo: "refused/expired"} {
		if codes[no] != want {
			t.Errorf("first tap of %s: %q, want %q (all: %v)", no, codes[no], want, codes)
		}
	}

	es := journal(t, filepath.Join(dir, "yktd.db"))
	sum, n := paidByCard(es)
	if n[sim.DemoStudentNo] < 1 || n[sim.DemoStaffNo] < 1 {
		t.Errorf("completed purchases by card = %v, want the student and the staff card", n)
	}
	for no := range n {
		if no != sim.DemoStudentNo && no != sim.DemoStaffNo {
			t.Errorf("card %s was charged: %v", no, sum)
		}
	}
	for _, name := range simCards {
		st := cardStatus(t, dir, name)
		if got, want := int64(st.Balance), demoBalance(t, name)-sum[st.CardNo]; got != want {
			t.Errorf("card %s balance %d, want start - completed = %d", name, got, want)
		}
		if int(st.OfflineCounter) != n[st.CardNo] {
			t.Errorf("card %s offline counter %d, want %d completed purchases", name, st.OfflineCounter, n[st.CardNo])
		}
	}
}

// TestRunSimPOSWithLedgerSyncs runs the demo POS with the reference ledger
// in-process until a sale was uploaded, then checks the ledger's copy of
// the device journal after the stop.
func TestRunSimPOSWithLedgerSyncs(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a sync round (5s)")
	}
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--auto", "200ms", "--dir", dir)
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	var paidSeq uint64 // a completed sale's sequence: its intent's + 1 at least
	var seen uint64
	deadline := time.Now().Add(time.Minute)
	for paidSeq == 0 && time.Now().Before(deadline) {
		recs, err := ctl.taps(seen, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			seen = rec.N
			if rec.Outcome == "paid" && paidSeq == 0 {
				paidSeq = rec.Intent + 1
			}
		}
	}
	if paidSeq == 0 {
		t.Fatalf("no sale within a minute\nstdout:\n%s", r.stdout)
	}
	// The sync loop runs every 5s: wait for a round that acknowledged it.
	var through uint64
	for through < paidSeq && time.Now().Before(deadline.Add(time.Minute)) {
		through = ctl.health().Journal.AckedThrough
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("yktd run exited with %d\nstderr:\n%s", code, r.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if through < paidSeq {
		t.Fatalf("no upload acknowledged through %d\nstderr:\n%s", paidSeq, r.stderr)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stdout.String(), "ledger: http://127.0.0.1:") {
		t.Errorf("stdout does not name the in-process ledger:\n%s", r.stdout)
	}

	es := journal(t, filepath.Join(dir, "yktd.db"))
	l, err := ledger.Open(filepath.Join(dir, "ledger"), ledger.Options{IssuerKeys: sam.TestKeys().Keys})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var sales int
	for _, e := range es {
		if e.Record.Seq > through {
			break
		}
		raw, err := l.Record("SIM-CANTEEN-01", e.Record.Seq)
		if err != nil {
			t.Fatalf("the ledger lacks record %d (%v) acknowledged through %d: %v", e.Record.Seq, e.Record.Kind, through, err)
		}
		if !bytes.Equal(raw, e.Raw) {
			t.Errorf("record %d differs between the device and the ledger", e.Record.Seq)
		}
		if e.Record.Kind == protocol.KindPurchaseCompleted {
			sales++
		}
	}
	if sales == 0 {
		t.Errorf("no completed sale among the %d records synced", through)
	}
	rep, err := l.Report()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Devices {
		if d.ID == "SIM-CANTEEN-01" && (d.HighWater < through || len(d.Flagged) != 0) {
			t.Errorf("ledger report of the device: high water %d (want >= %d), flagged TACs %+v", d.HighWater, through, d.Flagged)
		}
	}
}

// TestRunSimGateControl drives the demo gate only through the control
// interface: the student taps, the passage sensor sees the pass, then the
// fire alarm holds every lane open until the stop.
func TestRunSimGateControl(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--kind", "gate", "--auto", "0", "--dir", dir)
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	ctl.post("/sim/readers/sim:gate-in/tap", map[string]string{"card": "student"})
	// The sensor only counts while the arm is open: pulse it until the
	// gate reports the tap.
	var recs []terminal.TapRecord
	deadline := time.Now().Add(time.Minute)
	for active := true; len(recs) == 0 && time.Now().Before(deadline); active = !active {
		// Each level holds long enough for the input's debounce.
		ctl.post("/v1/inputs/pass_in", map[string]bool{"active": active})
		var err error
		if recs, err = ctl.taps(0, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if len(recs) == 0 {
		t.Fatalf("no gate record within a minute\nstderr:\n%s", r.stderr)
	}
	if rec := recs[0]; rec.Outcome != "passed" || rec.Code != "ok" || rec.Card != sim.DemoStudentNo || rec.Direction != "in" || rec.Seq == 0 {
		t.Errorf("student at the gate: %+v, want passed/ok in", rec)
	}
	ctl.post("/sim/readers/sim:gate-in/remove", nil)
	// The pass in the fleet's metrics: the tap by outcome, its time, the
	// relay it pulsed.
	fams := scrape(t, ctl)
	if v := metricValue(fams, "yktd_taps_total", map[string]string{"kind": "gate", "outcome": "passed", "reason": "ok"}); v != 1 {
		t.Errorf("yktd_taps_total{kind=gate,outcome=passed,reason=ok} = %v, want 1", v)
	}
	if v := metricValue(fams, "yktd_relay_pulses_total", map[string]string{"relay": "arm_in"}); v != 1 {
		t.Errorf("yktd_relay_pulses_total{relay=arm_in} = %v, want 1", v)
	}
	if v := metricValue(fams, "yktd_tap_duration_seconds", map[string]string{"kind": "gate", "phase": "total"}); v != 1 {
		t.Errorf("yktd_tap_duration_seconds{kind=gate,phase=total}: %v taps observed, want 1", v)
	}
	if err := ctl.tryPost("/v1/inputs/no_such_input", map[string]bool{"active": true}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown input: %v, want 404", err)
	}

	ctl.post("/v1/inputs/fire", map[string]bool{"active": true})
	emergency := "紧急状态"
	for !strings.Contains(r.stdout.String(), emergency) && time.Now().Before(deadline) {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("yktd run exited with %d", code)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !strings.Contains(r.stdout.String(), emergency) {
		t.Fatalf("the fire alarm was not shown:\n%s", r.stdout)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	logs := r.stderr.String()
	for _, want := range []string{`msg="board: relay held" relay=arm_in`, `msg="board: relay held" relay=arm_out`, "relays=safe store=closed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	es := journal(t, filepath.Join(dir, "yktd.db"))
	var passes, fire int
	for _, e := range es {
		switch {
		case e.Record.Kind == protocol.KindGatePass && e.Record.CardNo == sim.DemoStudentNo:
			passes++
		case e.Record.Kind == protocol.KindAlarm && e.Record.Reason == gate.AlarmFireOn:
			fire++
		}
	}
	if passes != 1 || fire != 1 {
		t.Errorf("journal: %d passes of the student and %d fire-alarm-on records, want 1 and 1", passes, fire)
	}
}

// simCashierPIN is the demo cashier's PIN (simconfig/pos.toml).
const simCashierPIN = "1234"

// TestRunSimPOSControl drives the demo POS only through the control
// interface: health, a sale, the cashier's cancel of it (journaled as a
// reversal the ledger owes back; the card is not credited here), a second
// cancel refused.
func TestRunSimPOSControl(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--auto", "0", "--dir", dir, "--no-ledger")
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	var health terminal.Health
	if err := ctl.c.Get(context.Background(), "/v1/health", &health); err != nil || health.Device != "SIM-CANTEEN-01" || health.Kind != "pos" || !health.Working {
		t.Errorf("health %+v, %v", health, err)
	}
	if want := "control token: " + filepath.Join(dir, terminal.ControlTokenName); !strings.Contains(r.stdout.String(), want) {
		t.Errorf("stdout does not say where the control credential is (%q):\n%s", want, r.stdout)
	}
	ctx := context.Background()
	if cancel, err := ctl.c.CancelLast(ctx, simCashierPIN); err != nil || cancel.Outcome != "refused" || cancel.Code != "nothing_to_cancel" {
		t.Errorf("cancel with no sale: %+v, %v", cancel, err)
	}

	ctl.post("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "staff"})
	recs := ctl.awaitTaps(1, time.Minute)
	ctl.post("/sim/readers/sim:canteen-1/remove", nil)
	if recs[0].Outcome != "paid" || recs[0].Card != sim.DemoStaffNo || recs[0].Amount != 1250 {
		t.Fatalf("staff tap: %+v", recs[0])
	}
	// Any other local process: no credential, no refund.
	if resp, err := http.Post(ctl.c.URL("/v1/cancel-last"), "application/json", strings.NewReader(`{"pin":"1234"}`)); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("cancel-last without the device credential: %s, want 401", resp.Status)
	}
	if cancel, err := ctl.c.CancelLast(ctx, "4321"); err == nil || cancel.Code != "cashier_pin_wrong" {
		t.Errorf("cancel with a wrong cashier PIN: %+v, %v", cancel, err)
	}
	if cancel, err := ctl.c.CancelLast(ctx, simCashierPIN); err != nil || cancel.Outcome != "cancelled" || cancel.Amount != 1250 ||
		cancel.Card != sim.DemoStaffNo || cancel.Intent != recs[0].Intent {
		t.Errorf("cancel of the sale: %+v, %v", cancel, err)
	}
	if cancel, err := ctl.c.CancelLast(ctx, simCashierPIN); err != nil || cancel.Outcome != "refused" || cancel.Code != "already_cancelled" {
		t.Errorf("second cancel: %+v, %v", cancel, err)
	}
	if err := ctl.tryPost("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "nobody"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("tap of an unknown card: %v, want 404", err)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	var reversed int
	for _, e := range journal(t, filepath.Join(dir, "yktd.db")) {
		if e.Record.Kind == protocol.KindPurchaseReversed {
			reversed++
			if e.Record.IntentID != recs[0].Intent || e.Record.Amount != 1250 || e.Record.CardNo != sim.DemoStaffNo {
				t.Errorf("reversal %+v does not name the sale %+v", e.Record, recs[0])
			}
		}
	}
	if reversed != 1 {
		t.Errorf("%d reversals journaled, want 1", reversed)
	}
	if st := cardStatus(t, dir, "staff"); int64(st.Balance) != demoBalance(t, "staff")-1250 {
		t.Errorf("staff card balance %d: the terminal does not credit a cancelled sale", st.Balance)
	}
}

// TestRunSimAutoZeroTapsOnlyOnRequest: with --auto 0 and a console whose
// input ended (stdin is /dev/null under a service manager), the simulator
// taps nothing by itself; only the control interface taps.
func TestRunSimAutoZeroTapsOnlyOnRequest(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, strings.NewReader(""), "run", "--sim", "--auto", "0", "--dir", dir, "--no-ledger")
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	ctl.post("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "staff"})
	recs := ctl.awaitTaps(1, time.Minute)
	ctl.post("/sim/readers/sim:canteen-1/remove", nil)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	if strings.Contains(r.stdout.String(), "-- tap ") {
		t.Errorf("the simulator tapped a card by itself with --auto 0:\n%s", r.stdout)
	}
	for _, rec := range recs {
		if rec.Card != sim.DemoStaffNo {
			t.Errorf("tap of %s that nobody asked for: %+v", rec.Card, rec)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "--sim", "--enrol", "TOKEN"},
		{"run", "--sim", "--kind", "atm"},
		{"run", "--config", "x.toml", "extra"},
		{"run", "--print-config"},
	} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			// A mistake must not start a daemon; in case it does, it is
			// bounded and keeps its files in the test's directory.
			if slices.Contains(args, "--sim") {
				args = append(slices.Clip(args), "--no-ledger", "--dir", t.TempDir())
			}
			r := startRun(t, 5*time.Second, nil, args...)
			var code int
			select {
			case code = <-r.done:
				r.done <- code
			case <-time.After(30 * time.Second):
				t.Fatal("no exit")
			}
			msg := r.stderr.String()
			if code != 2 || !strings.Contains(msg, "yktd run:") {
				t.Errorf("exit %d, want 2 with the usage explained; stderr (start):\n%.600s", code, msg)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--sim", "--print-config"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `kind = "pos"`) {
		t.Errorf("--print-config: exit %d, stdout %q", code, out.String())
	}
}

// TestRunConfigWithoutHardware runs the reference device configuration on
// this machine (its data directory moved to a temporary one): its check
// fails with a clear error instead of hanging, and before the store is
// made: with the periph board on the missing GPIO, with a fake board on the
// ledger's CA file, which is not on this machine.
func TestRunConfigWithoutHardware(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", "pos.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dataDir := regexp.MustCompile(`(?m)^data_dir = "[^"]*"`)
	if !dataDir.Match(src) {
		t.Fatal("testdata/config/pos.toml has no data_dir line to move")
	}
	for _, tc := range []struct {
		name, backend string
		want          []string
	}{
		{"periph board", "periph", []string{"board", "GPIO18", "sync.ca_file"}},
		{"fake board", "fake", []string{"sync.ca_file", "/etc/yktd/ledger-ca.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := dataDir.ReplaceAll(src, []byte(`data_dir = "`+filepath.ToSlash(dir)+`"`))
			cfg = regexp.MustCompile(`(?m)^backend = "[^"]*"`).ReplaceAll(cfg, []byte(`backend = "`+tc.backend+`"`))
			path := filepath.Join(dir, "pos.toml")
			if err := os.WriteFile(path, cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			r := startRun(t, 2*time.Second, nil, "run", "--config", path)
			var code int
			select {
			case code = <-r.done:
				r.done <- code
			case <-time.After(30 * time.Second):
				t.Fatal("yktd run --config hangs without its hardware")
			}
			if code != 1 {
				t.Fatalf("exit %d, want 1\nstderr:\n%s", code, r.stderr)
			}
			msg := r.stderr.String()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr does not name %q:\n%s", want, msg)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "yktd.db")); err == nil {
				t.Error("the store was made although the check failed")
			}
		})
	}
}
