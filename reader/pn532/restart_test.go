package pn532_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/ptytest"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pn532"
)

// TestRecoversFromUnplug: the USB serial adapter of the module is pulled
// (the master of its pty closed, its /dev/serial/by-id link gone) and
// plugged in again as another tty (the link re-pointed to a new pty with
// a module behind it). A Reader under reader.Manager fails, takes back its
// card, is restarted with backoff while the device is missing, and finds
// the next tap by itself; the log says so.
func TestRecoversFromUnplug(t *testing.T) {
	logs := &testbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p1, mod1 := newPTYModule(t)
	link := ptytest.Link(t, p1.SlavePath)

	o, _ := fastOptions(logs)
	o.Log = log
	r := pn532.New(link, o)
	m := &reader.Manager{
		Readers: []reader.Reader{r},
		Backoff: reader.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Log:     log,
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan reader.Event, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.Run(ctx, events) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})

	mod1.Tap(echoCard{})
	old := nextEvent(t, events, reader.CardPresent).Card
	if _, err := old.Transmit(ctx, readCmd); err != nil {
		t.Fatalf("Transmit before unplug: %v", err)
	}

	// Unplug: udev removes the link, the tty goes away.
	ptytest.Repoint(t, link, "")
	p1.Close()
	nextEvent(t, events, reader.CardRemoved)
	if _, err := old.Transmit(ctx, readCmd); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("old card after unplug: %v, want ErrCardRemoved", err)
	}
	logs.WaitFor(t, "reader failed, will retry", waitLimit)
	logs.WaitFor(t, "failures=2", waitLimit) // a restart found no device and backed off again

	// Plug in again, as another tty.
	p2, mod2 := newPTYModule(t)
	mod2.Tap(echoCard{})
	ptytest.Repoint(t, link, p2.SlavePath)
	ev := nextEvent(t, events, reader.CardPresent)
	if rsp, err := ev.Card.Transmit(ctx, readCmd); err != nil || len(rsp) != 4 {
		t.Fatalf("Transmit after replug: % X, %v", rsp, err)
	}
	logs.WaitFor(t, "reader recovered", waitLimit)
}
