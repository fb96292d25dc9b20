//go:build linux

package qrscan_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/openykt/yktd/internal/ptytest"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/qrscan"
)

const deadline = 10 * time.Second

// readyPort tells the test when the Reader has opened the port and flushed
// what was queued before: bytes the simulated scanner writes after that
// are read.
type readyPort struct {
	serial.Port
	ready chan<- string
	dev   string
}

func (p readyPort) ResetInputBuffer() error {
	err := p.Port.ResetInputBuffer()
	p.ready <- p.dev
	return err
}

// openNotify is an Options.Open that opens the real serial port and
// reports on ready each time the Reader is ready to read.
func openNotify(ready chan<- string) func(string, *serial.Mode) (serial.Port, error) {
	return func(dev string, mode *serial.Mode) (serial.Port, error) {
		p, err := serial.Open(dev, mode)
		if err != nil {
			return nil, err
		}
		return readyPort{Port: p, ready: ready, dev: dev}, nil
	}
}

func waitReady(t *testing.T, ready <-chan string) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(deadline):
		t.Fatal("reader did not open the port")
	}
}

func next(t *testing.T, events <-chan reader.Event) reader.Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(deadline):
		t.Fatal("no event")
		return reader.Event{}
	}
}

func write(t *testing.T, master *os.File, s string) {
	t.Helper()
	if _, err := master.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestReaderOnPTY(t *testing.T) {
	master, slave := ptytest.Open(t)
	// Queued before the reader opened: stale, discarded.
	write(t, master, "STALE\r")
	ready := make(chan string, 4)
	r := qrscan.New(slave, qrscan.Options{Name: "qr-in", Baud: 115200, Open: openNotify(ready), Log: slog.New(slog.DiscardHandler),
		Framing: qrscan.Framing{Terminator: "\r\n", Prefix: "]Q1"}})
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan reader.Event, 8)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, events) }()
	waitReady(t, ready)

	write(t, master, "]Q1HC1:6BFOXN")
	write(t, master, "*TS0BI$ZD4N9\r\n]Q1second\r\nbin\x00ary\r\n")
	write(t, master, "third\r\n")
	for _, want := range []string{"HC1:6BFOXN*TS0BI$ZD4N9", "second", "third"} {
		e := next(t, events)
		if e.Kind != reader.TextCredential || e.Tech != reader.TechQR || e.Reader != "qr-in" || e.Text != want {
			t.Errorf("event %v text %q, want %q", e, e.Text, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return after cancel")
	}
	if s := r.Stats(); s.Codes != 3 || s.Garbage != 1 {
		t.Errorf("stats %+v", s)
	}
	select {
	case e := <-events:
		t.Errorf("extra event %v (the stale code?)", e)
	default:
	}
}

func TestReaderMissingDevice(t *testing.T) {
	r := qrscan.New("/dev/does-not-exist-ttyUSB9", qrscan.Options{})
	err := r.Run(context.Background(), make(chan reader.Event))
	if !errors.Is(err, reader.ErrTransport) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Run = %v, want ErrTransport and ErrNotExist", err)
	}
	if err := r.Probe(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Probe = %v", err)
	}
	r = qrscan.New("/dev/null", qrscan.Options{Framing: qrscan.Framing{Terminator: "x"}})
	if err := r.Probe(); !errors.Is(err, qrscan.ErrFraming) {
		t.Errorf("Probe with bad framing = %v", err)
	}
}

func TestReaderDeviceGone(t *testing.T) {
	p, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ready := make(chan string, 1)
	r := qrscan.New(p.SlavePath, qrscan.Options{Open: openNotify(ready), Log: slog.New(slog.DiscardHandler)})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), make(chan reader.Event)) }()
	waitReady(t, ready)
	p.Close() // unplugged
	select {
	case err := <-done:
		if !errors.Is(err, reader.ErrTransport) {
			t.Errorf("Run = %v, want ErrTransport", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not notice the device gone")
	}
}

// The scanner's USB adapter is unplugged and plugged back: its by-id link
// disappears and comes back pointing to a new tty. Under reader.Manager the
// Reader fails, is restarted with backoff, and reads from the new tty.
func TestReaderReconnectsUnderManager(t *testing.T) {
	first, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	link := ptytest.Link(t, first.SlavePath)
	ready := make(chan string, 4)
	r := qrscan.New(link, qrscan.Options{Open: openNotify(ready), Log: slog.New(slog.DiscardHandler)})
	m := &reader.Manager{
		Readers: []reader.Reader{r},
		Backoff: reader.Backoff{Min: 2 * time.Millisecond, Max: 20 * time.Millisecond},
		Log:     slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan reader.Event, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx, events)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(deadline):
			t.Error("Manager did not stop")
		}
	}()

	waitReady(t, ready)
	write(t, first.Master, "before\r")
	if e := next(t, events); e.Text != "before" {
		t.Fatalf("text %q", e.Text)
	}

	ptytest.Repoint(t, link, "") // udev removes the link
	first.Close()
	master, slave := ptytest.Open(t)
	ptytest.Repoint(t, link, slave)
	waitReady(t, ready)
	write(t, master, "after\r")
	if e := next(t, events); e.Text != "after" {
		t.Fatalf("text %q", e.Text)
	}
}
