package terminal_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/sdnotify"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// fakeSystemd is a NOTIFY_SOCKET: a unixgram socket the daemon's
// sdnotify.Conn sends to, read by the test.
type fakeSystemd struct {
	t  *testing.T
	ln *net.UnixConn
}

func newFakeSystemd(t *testing.T) (*fakeSystemd, *sdnotify.Conn) {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := sdnotify.New(addr, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeSystemd{t: t, ln: ln}, c
}

// next returns the next datagram.
func (f *fakeSystemd) next() string {
	f.t.Helper()
	if err := f.ln.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		f.t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := f.ln.Read(b)
	if err != nil {
		f.t.Fatalf("no notification: %v", err)
	}
	return string(b[:n])
}

// until reads datagrams up to the first one ok accepts, and returns those read.
func (f *fakeSystemd) until(what string, ok func(string) bool) []string {
	f.t.Helper()
	var seen []string
	for range 2000 {
		m := f.next()
		seen = append(seen, m)
		if ok(m) {
			return seen
		}
	}
	f.t.Fatalf("no notification %s among %d: last %q", what, len(seen), seen[len(seen)-1])
	return nil
}

// superviseFast shortens the health bounds for one test.
func superviseFast(t *testing.T, stuck, probe time.Duration) {
	oldStuck, oldProbe := terminal.TapStuckAfter, terminal.StoreProbeEvery
	terminal.TapStuckAfter, terminal.StoreProbeEvery = stuck, probe
	t.Cleanup(func() { terminal.TapStuckAfter, terminal.StoreProbeEvery = oldStuck, oldProbe })
}

type notifyRig struct {
	d     *terminal.Daemon
	store *offline.Store
	done  chan error
	stop  context.CancelFunc
	logs  *testbuf.Buffer
}

func startNotified(t *testing.T, n terminal.Notifier, rdr *sim.Reader) *notifyRig {
	t.Helper()
	store, err := offline.Open(filepath.Join(t.TempDir(), "yktd.db"), offline.Options{DeviceID: "pos-daemon-01"})
	if err != nil {
		t.Fatal(err)
	}
	applySignedList(t, store, 1)
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	disp := uitest.New()
	r := &notifyRig{store: store, done: make(chan error, 1), logs: &testbuf.Buffer{}}
	r.d, err = terminal.NewDaemon(daemonConfig(""), terminal.DaemonDeps{Store: store, Readers: []reader.Reader{rdr}, SAM: s,
		Display: disp, Keypad: disp, Logger: slog.New(slog.NewTextHandler(r.logs, nil)), Notifier: n, Grace: 30 * time.Second})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
	})
	return r
}

func (r *notifyRig) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// TestNotifyReadyWatchdogStatusStopping: the first notification is
// READY=1, sent by Run (NewDaemon opened the store's flows and said
// nothing); then the healthy daemon is pet and tells its state in one
// line; a clean stop says STOPPING=1 and pets no more.
func TestNotifyReadyWatchdogStatusStopping(t *testing.T) {
	superviseFast(t, 30*time.Second, time.Minute)
	sd, conn := newFakeSystemd(t)
	r := startNotified(t, conn, sim.NewReader("sim:pos", reader.TechISO14443A))
	if got := sd.next(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	if _, err := r.store.Head(); err != nil {
		t.Fatalf("the store is not open at READY: %v", err)
	}
	seen := sd.until("WATCHDOG=1", func(m string) bool { return m == "WATCHDOG=1" })
	status := sd.until("STATUS=", func(m string) bool { return strings.HasPrefix(m, "STATUS=") })
	line := status[len(status)-1]
	for _, want := range []string{"pos pos-daemon-01", "healthy", "holds:", "sync: off"} {
		if !strings.Contains(line, want) {
			t.Errorf("status %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "\n") || strings.Contains(line, "UNHEALTHY") {
		t.Errorf("status %q: want one healthy line", line)
	}
	for _, m := range seen {
		if m == "READY=1" {
			t.Errorf("READY=1 sent twice: %q", seen)
		}
	}
	r.stop()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	sd.until("STOPPING=1", func(m string) bool { return m == "STOPPING=1" })
	// Nothing follows STOPPING=1: the daemon has returned, so a read with
	// no sender pending ends at once with a timeout.
	if err := sd.ln.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 256)
	if n, err := sd.ln.Read(b); err == nil {
		t.Errorf("notification after STOPPING=1: %q", b[:n])
	}
}

// TestNotifyNoWatchdogWhileTapStuck: the card's DEBIT never returns (its
// latency fault holds the answer in the reader): the tap loop stops
// answering heartbeats, the status says so and the watchdog is no longer
// pet; when the answer comes the sale completes and the pets resume.
func TestNotifyNoWatchdogWhileTapStuck(t *testing.T) {
	superviseFast(t, 200*time.Millisecond, time.Minute)
	sd, conn := newFakeSystemd(t)
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
	if err := card.Arm(sim.Fault{Kind: sim.Latency, INS: sim.InsDebitForPurchase, Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	r := startNotified(t, conn, rdr)
	sd.until("READY=1", func(m string) bool { return m == "READY=1" })
	sd.until("WATCHDOG=1 while healthy", func(m string) bool { return m == "WATCHDOG=1" })
	rdr.Tap(card)
	select {
	case <-inDebit:
	case <-time.After(30 * time.Second):
		t.Fatal("the sale never reached DEBIT")
	}
	sd.until("of the stuck tap loop", func(m string) bool { return strings.Contains(m, "tap loop stuck") })
	for range 5 {
		m := sd.next()
		if m == "WATCHDOG=1" {
			t.Fatal("WATCHDOG=1 while the tap loop is stuck")
		}
		if !strings.Contains(m, "UNHEALTHY (tap loop stuck") {
			t.Errorf("status while stuck %q", m)
		}
	}
	close(release)
	sd.until("WATCHDOG=1 after the tap loop came back", func(m string) bool { return m == "WATCHDOG=1" })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(r.d.Taps(0)) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if recs := r.d.Taps(0); len(recs) != 1 || recs[0].Outcome != "paid" {
		t.Fatalf("taps %+v, want the stuck sale paid once released", recs)
	}
	if !strings.Contains(r.logs.String(), "unhealthy") {
		t.Errorf("the log does not tell of the unhealthy daemon:\n%s", r.logs.String())
	}
}

// TestNotifyNoWatchdogStoreRefusesWrites: a store that no longer accepts
// a write (closed under the daemon, as a failed disk would leave it)
// stops the pets, and a fault stop says no STOPPING=1.
func TestNotifyNoWatchdogStoreRefusesWrites(t *testing.T) {
	superviseFast(t, 30*time.Second, 0)
	sd, conn := newFakeSystemd(t)
	r := startNotified(t, conn, sim.NewReader("sim:pos", reader.TechISO14443A))
	sd.until("WATCHDOG=1 while healthy", func(m string) bool { return m == "WATCHDOG=1" })
	if err := r.store.Close(); err != nil {
		t.Fatal(err)
	}
	sd.until("of the store", func(m string) bool { return strings.Contains(m, "store refuses writes") })
	for range 5 {
		m := sd.next()
		if m == "WATCHDOG=1" {
			t.Fatal("WATCHDOG=1 while the store refuses writes")
		}
		if !strings.Contains(m, "store refuses writes") {
			t.Errorf("status %q", m)
		}
	}
}

// TestWatchdogDeviceDaemon: on a board without systemd the daemon pets a
// watchdog device (a fake file here) while healthy and writes the magic
// 'V' at a clean stop.
func TestWatchdogDeviceDaemon(t *testing.T) {
	superviseFast(t, 30*time.Second, time.Minute)
	f := &chanFile{wrote: make(chan struct{}, 1)}
	dev := sdnotify.NewDevice(f, 10*time.Millisecond)
	r := startNotified(t, dev, sim.NewReader("sim:pos", reader.TechISO14443A))
	for len(f.all()) < 3 {
		select {
		case <-f.wrote:
		case <-time.After(30 * time.Second):
			t.Fatal("the watchdog device was not pet")
		}
	}
	r.stop()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	w := f.all()
	for i, b := range w[:len(w)-1] {
		if b != "1" {
			t.Fatalf("device write %d %q before the magic close: %q", i, b, w)
		}
	}
	if w[len(w)-1] != "V" {
		t.Errorf("last write to the device %q, want the magic close 'V'", w[len(w)-1])
	}
	if err := dev.Watchdog(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("pet after the stop: %v", err)
	}
}

// chanFile is a fake watchdog device: it keeps what is written and tells
// of each write on wrote, never blocking the writer.
type chanFile struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{}
}

func (f *chanFile) Write(b []byte) (int, error) {
	f.mu.Lock()
	f.writes = append(f.writes, string(b))
	f.mu.Unlock()
	select {
	case f.wrote <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (f *chanFile) Close() error { return nil }

func (f *chanFile) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}
