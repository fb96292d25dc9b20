package terminal_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// logSignal is a slog handler that closes a channel the first time a
// message containing want is logged.
type logSignal struct {
	want string
	once *sync.Once
	ch   chan struct{}
}

func newLogSignal(want string) logSignal {
	return logSignal{want: want, once: &sync.Once{}, ch: make(chan struct{})}
}

func (h logSignal) Enabled(context.Context, slog.Level) bool { return true }
func (h logSignal) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h logSignal) WithGroup(string) slog.Handler            { return h }
func (h logSignal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.want) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

// daemonConfig is a canteen POS selling 12.50 yuan meals in UTC.
func daemonConfig(listen string) *config.Config {
	return &config.Config{
		Device:  config.Device{ID: "pos-daemon-01", Kind: config.KindPOS, Timezone: "UTC"},
		POS:     config.POS{Mode: config.ModeFixed, PriceFen: 1250, PINLimitFen: 5000, RepeatGuard: config.Duration(3 * time.Second)},
		Control: config.Control{Listen: listen},
	}
}

// TestDaemonStopLetsTheTapFinish stops the daemon (as SIGTERM does) while
// DEBIT FOR PURCHASE is on its way back from the card: the sale completes
// and is journaled, no intent stays open, the board's relays go to their
// safe state and the store is closed.
func TestDaemonStopLetsTheTapFinish(t *testing.T) {
	path := filepath.Join(t.TempDir(), "yktd.db")
	store, err := offline.Open(path, offline.Options{DeviceID: "pos-daemon-01"})
	if err != nil {
		t.Fatal(err)
	}
	storeOwned := true
	defer func() {
		if storeOwned {
			_ = store.Close()
		}
	}()
	applySignedList(t, store, 1)
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	fake, err := boardtest.New(board.Spec{Relays: []board.RelaySpec{{Name: "lock"}}})
	if err != nil {
		t.Fatal(err)
	}
	lock, err := fake.Relay("lock")
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Hold(); err != nil {
		t.Fatal(err)
	}
	if !fake.High("lock") {
		t.Fatal("the held relay is not energised")
	}

	// DEBIT executes on the card; its answer waits in the reader until the
	// test lets it go, after the shutdown began.
	inDebit, release := make(chan struct{}), make(chan struct{})
	rdr := sim.NewReader("sim:pos", reader.TechISO14443A)
	rdr.Sleep = func(ctx context.Context, _ time.Duration) error {
		close(inDebit)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	card := demoCard(t, "student", "", 0)
	if err := card.Arm(sim.Fault{Kind: sim.Latency, INS: sim.InsDebitForPurchase, Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	disp := uitest.New()
	shutting := newLogSignal("shutting down")
	d, err := terminal.NewDaemon(daemonConfig(""), terminal.DaemonDeps{
		Store: store, Board: fake.Board, Readers: []reader.Reader{rdr}, SAM: s, Display: disp, Keypad: disp,
		Logger: slog.New(shutting), Grace: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	storeOwned = false // the daemon closes it
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	rdr.Tap(card)
	select {
	case <-inDebit:
	case <-time.After(30 * time.Second):
		t.Fatal("the sale never reached DEBIT")
	}
	stop()
	select {
	case <-shutting.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not begin its shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned before the tap in progress finished: %v", err)
	default:
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the tap finished")
	}

	recs := d.Taps(0)
	if len(recs) != 1 || recs[0].Outcome != "paid" || recs[0].Amount != 1250 || recs[0].Balance != 8750 {
		t.Fatalf("tap records %+v, want one sale of 12.50 leaving 87.50", recs)
	}
	if got := balance(card); got != 8750 {
		t.Errorf("card balance %d, want 8750", got)
	}
	if fake.High("lock") {
		t.Error("the relay is still energised after the stop")
	}
	if ch := fake.Changes("lock"); len(ch) == 0 || ch[len(ch)-1].High {
		t.Errorf("relay changes %+v: want the last one to the safe (low) state", ch)
	}
	if err := lock.Hold(); !errors.Is(err, board.ErrClosed) || fake.High("lock") {
		t.Errorf("relay hold after the stop: %v (energised %v), want the board closed", err, fake.High("lock"))
	}

	// The store is closed: a second Open gets its lock at once.
	again, err := offline.Open(path, offline.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("reopen after the stop: %v", err)
	}
	defer again.Close()
	ins, err := again.Intents()
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 0 {
		t.Errorf("intents left by a clean stop: %+v", ins)
	}
	if _, err := again.Verify(); err != nil {
		t.Fatal(err)
	}
	h, err := again.Head()
	if err != nil {
		t.Fatal(err)
	}
	es, err := again.Records(0, int(h.Seq))
	if err != nil {
		t.Fatal(err)
	}
	var completed int
	for _, e := range es {
		if e.Record.Kind == protocol.KindPurchaseCompleted && e.Record.IntentID == recs[0].Intent {
			completed++
		}
	}
	if completed != 1 {
		t.Errorf("%d completion records of intent %d, want 1", completed, recs[0].Intent)
	}
}

// TestDaemonControlLoopbackOnly: the control interface's Host check and
// credential are made for loopback, so the daemon refuses to listen beyond
// it even when a caller bypassed the configuration's checks.
func TestDaemonControlLoopbackOnly(t *testing.T) {
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"0.0.0.0:0", false},
		{"[::]:0", false},
		{":0", false},
		{"192.0.2.1:0", false},
		{"example.com:0", false},
		{"127.0.0.1:0", true},
		{"localhost:0", true},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "pos-daemon-01"})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			disp := uitest.New()
			d, err := terminal.NewDaemon(daemonConfig(tc.listen), terminal.DaemonDeps{
				Store: store, SAM: s, Display: disp, Keypad: disp, Logger: slog.New(slog.DiscardHandler)})
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "loopback only") {
					t.Fatalf("NewDaemon with control.listen %q: %v, want a loopback-only refusal", tc.listen, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewDaemon with control.listen %q: %v", tc.listen, err)
			}
			if addr := d.ControlAddr(); !strings.HasPrefix(addr, "127.0.0.1:") && !strings.HasPrefix(addr, "[::1]:") {
				t.Errorf("control address %q", addr)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := d.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// TestDaemonStopEndsLongPolls: a client waiting on GET /v1/taps?wait=30s
// (the rig always has one) gets its answer when the daemon stops, instead
// of holding the control interface's shutdown for its timeout and being
// left blocked behind a stopped daemon.
func TestDaemonStopEndsLongPolls(t *testing.T) {
	store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "pos-daemon-01"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	disp := uitest.New()
	d, err := terminal.NewDaemon(daemonConfig("127.0.0.1:0"), terminal.DaemonDeps{
		Store: store, SAM: s, Display: disp, Keypad: disp, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = store.Close()
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	// The health check answers once the interface serves; then the poll.
	base := "http://" + d.ControlAddr()
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(base + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The poll on a connection of its own; the stop comes once it waits in
	// the daemon's handler (a request read after the server began to shut
	// down is dropped by net/http, which is not what this test is about).
	conn, err := net.Dial("tcp", d.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v1/taps?after=0&wait=30s HTTP/1.1\r\nHost: "+d.ControlAddr()+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	polled := make(chan error, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New("the poll was answered " + resp.Status)
			}
		}
		polled <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); d.WaitingPolls() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the poll never reached the daemon's handler")
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	select {
	case err := <-polled:
		if err != nil {
			t.Errorf("the waiting client got no answer: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GET /v1/taps?wait=30s still blocked 5s after the daemon stopped")
	}
}

// TestDaemonWarnsStorageNearlyFull: a journal the ledger has not
// acknowledged for long fills the store; the daemon tells the technician
// on the display at start (and every housekeeping round after).
func TestDaemonWarnsStorageNearlyFull(t *testing.T) {
	store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "pos-daemon-01",
		MaxUnacked: 20, Reserve: 5})
	if err != nil {
		t.Fatal(err)
	}
	for range 14 { // 14 of the 15 records new purchases may use: past 80%
		if _, err := store.Append(protocol.Record{Kind: protocol.KindAlarm, Reason: "tamper"}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	disp := uitest.New()
	warned := newLogSignal("storage nearly full")
	d, err := terminal.NewDaemon(daemonConfig(""), terminal.DaemonDeps{Store: store, SAM: s, Display: disp, Keypad: disp,
		Logger: slog.New(warned)})
	if err != nil {
		_ = store.Close()
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := disp.WaitShown(wctx, ui.CodeStorageNearly); err != nil {
		t.Errorf("display never warned: %v (shown %v)", err, disp.Codes())
	}
	select {
	case <-warned.ch:
	case <-wctx.Done():
		t.Error("no log line")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
