package pcsc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
	"github.com/openykt/yktd/reader/vpcd"
)

// TestRecoversFromPCSCDRestart is the closest fault to a reader unplugged
// and plugged in again that the rig can inject (vpcd readers cannot be
// hot-plugged): pcscd dies (stopped, or killed as in a crash) and comes
// back. A Reader run by a reader.Manager must report the failure (Run
// returns an error, the Manager logs it), take back the card it handed
// out (CardRemoved, the old Card fails with ErrCardRemoved), and once
// pcscd is back the Manager's restart must see the next tap with working
// APDUs, and say so in the log.
func TestRecoversFromPCSCDRestart(t *testing.T) {
	d := needOwnPCSCD(t)
	for _, be := range Backends() {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			t.Run(string(be)+"/"+strings.ReplaceAll(sig.String(), " ", "-"), func(t *testing.T) {
				testRecovery(t, d, be, sig)
			})
		}
	}
}

func testRecovery(t *testing.T, d *pcscdProc, be Backend, sig syscall.Signal) {
	waitEmpty(t, be)
	ctx, cancel := context.WithCancel(context.Background())
	var logs testbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	slot := &vpcd.Slot{Addr: vpcdAddr, Backoff: vpcd.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Log: slog.New(slog.DiscardHandler)}
	r, err := NewReader(vpcdReader, Options{Backend: be, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	m := &reader.Manager{
		Readers: []reader.Reader{r},
		Backoff: reader.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Log:     log,
	}
	events := make(chan reader.Event, 16)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = slot.Run(ctx) }()
	go func() { defer wg.Done(); m.Run(ctx, events) }()
	t.Cleanup(func() {
		slot.Remove()
		cancel()
		wg.Wait()
		if d.exited == nil {
			// The test stopped between kill and restart: the other
			// tests need the daemon back.
			if err := d.start(); err != nil {
				t.Errorf("restarting pcscd after the test: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("manager and driver log:\n%s", logs.String())
		}
		dumpLog(t)
	})

	next := func(want reader.EventKind) reader.Event {
		t.Helper()
		return readertest.NextEvent(t, events, want, 10*time.Second)
	}
	read := func(c reader.Card, p byte) error {
		t.Helper()
		rsp, err := c.Transmit(ctx, []byte{0x00, 0xB0, 0x00, p, 0x00})
		if err != nil {
			return err
		}
		if want := []byte{0x00, p, 0x90, 0x00}; !bytes.Equal(rsp, want) {
			t.Fatalf("response % X, want % X", rsp, want)
		}
		return nil
	}
	// logged waits (bounded) until the log has msg after offset from and
	// returns where it ends.
	logged := func(from int, msg string) int {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			s := logs.String()
			if i := strings.Index(s[from:], msg); i >= 0 {
				return from + i + len(msg)
			}
			if time.Now().After(deadline) {
				t.Fatalf("log has no %q after offset %d within 10s:\n%s", msg, from, s)
			}
			time.Sleep(20 * time.Millisecond) // polling the log, bounded
		}
	}

	card := &responder{}
	slot.Present(card)
	ev := next(reader.CardPresent)
	if err := read(ev.Card, 1); err != nil {
		t.Fatalf("Transmit before the restart: %v", err)
	}

	// pcscd dies: Run fails and the Manager says it will retry; the card
	// handed out is taken back.
	if err := d.kill(sig); err != nil {
		t.Fatal(err)
	}
	at := logged(0, `msg="reader failed, will retry" reader="pcsc:`+vpcdReader+`"`)
	if rm := next(reader.CardRemoved); rm.Reader != ev.Reader {
		t.Errorf("removal from %q, want %q", rm.Reader, ev.Reader)
	}
	if err := read(ev.Card, 2); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("Transmit on the card of the dead pcscd = %v, want ErrCardRemoved", err)
	}
	slot.Remove() // the card leaves while pcscd is down

	// pcscd comes back: the Manager's restart sees the next tap.
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	slot.Present(card)
	ev2 := next(reader.CardPresent)
	if ev2.Reader != ev.Reader || !bytes.Equal(ev2.UID, testUID) {
		t.Errorf("after the restart: %v", ev2)
	}
	if err := read(ev2.Card, 3); err != nil {
		t.Fatalf("Transmit after the restart: %v", err)
	}
	// The Manager logged the restart, and the attempt that now runs (the
	// one that delivered the tap) is the last one it logged.
	logged(at, `msg="reader restarting" reader="pcsc:`+vpcdReader+`"`)
	if s := logs.String(); strings.LastIndex(s, "reader failed") > strings.LastIndex(s, "reader restarting") {
		t.Errorf("the log ends with a failure, not a restart:\n%s", s)
	}
	select {
	case ev := <-events:
		t.Errorf("unexpected event %v", ev)
	default:
	}
}
