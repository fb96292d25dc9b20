package pcsc

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/readertest"
	"github.com/openykt/yktd/reader/readertest/drivertest"
	"github.com/openykt/yktd/reader/vpcd"
)

// testATR is the ATR of the test card: a contactless ISO 14443-4 type A
// card as a PC/SC reader reports it.
var testATR = drivertest.EchoATR()

var testUID = []byte{0x04, 0xA1, 0xB2, 0xC3}

// withTCK appends the check byte of an ATR.
func withTCK(b []byte) []byte {
	var x byte
	for _, c := range b[1:] {
		x ^= c
	}
	return append(b, x)
}

// responder is the test card behind vpcd: FF CA answers the UID (as a
// reader would), everything else as drivertest.Echo.
type responder struct {
	mu   sync.Mutex
	cmds [][]byte
}

func (r *responder) ATR() []byte { return testATR }
func (r *responder) Reset()      {}
func (r *responder) Respond(cmd []byte) ([]byte, error) {
	r.mu.Lock()
	r.cmds = append(r.cmds, bytes.Clone(cmd))
	r.mu.Unlock()
	if len(cmd) >= 2 && cmd[0] == 0xFF && cmd[1] == 0xCA {
		return append(bytes.Clone(testUID), 0x90, 0x00), nil
	}
	return drivertest.Echo(cmd)
}

// rig is one vpcd slot driven by the test plus one Reader watching it.
type rig struct {
	t      *testing.T
	slot   *vpcd.Slot
	events chan reader.Event
}

// waitEmpty waits (bounded) until pcscd reports no card in the vpcd
// readers: pcscd notices a removal at its next 400 ms presence poll, and a
// new connection on the slot before that poll would look like the old card.
func waitEmpty(t *testing.T, be Backend) []ReaderStatus {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		st, err := ListReaders(context.Background(), Options{Backend: be})
		if err != nil {
			t.Fatalf("ListReaders: %v", err)
		}
		if !slices.ContainsFunc(st, func(s ReaderStatus) bool { return s.Present }) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("a vpcd reader still reports a card: %+v", st)
		}
		time.Sleep(50 * time.Millisecond) // polling pcscd's view, bounded
	}
}

func newRig(t *testing.T, be Backend) *rig {
	t.Helper()
	waitEmpty(t, be)
	ctx, cancel := context.WithCancel(context.Background())
	slot := &vpcd.Slot{Addr: vpcdAddr}
	r, err := NewReader(vpcdReader, Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	rg := &rig{t: t, slot: slot, events: make(chan reader.Event, 16)}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); slot.Run(ctx) }()
	runErr := make(chan error, 1)
	go func() { defer wg.Done(); runErr <- r.Run(ctx, rg.events) }()
	t.Cleanup(func() {
		slot.Remove()
		cancel()
		wg.Wait()
		if err := <-runErr; err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
		dumpLog(t)
	})
	return rg
}

func (rg *rig) next(want reader.EventKind) reader.Event {
	rg.t.Helper()
	return readertest.NextEvent(rg.t, rg.events, want, 10*time.Second)
}

func TestConformance(t *testing.T) {
	needPCSCD(t)
	for _, be := range Backends() {
		t.Run(string(be), func(t *testing.T) { testConformance(t, be) })
	}
}

func testConformance(t *testing.T, be Backend) {
	ctx := context.Background()

	// Both vpcd readers are listed, empty.
	st := waitEmpty(t, be)
	for _, name := range []string{vpcdReader, vpcdReader2} {
		if !slices.ContainsFunc(st, func(s ReaderStatus) bool { return s.Name == name }) {
			t.Fatalf("reader %q not listed: %+v", name, st)
		}
	}

	rg := newRig(t, be)
	card := &responder{}
	rg.slot.Present(card)
	ev := rg.next(reader.CardPresent)
	if ev.Reader != "pcsc:"+vpcdReader {
		t.Errorf("event reader %q", ev.Reader)
	}
	if !bytes.Equal(ev.ATR, testATR) {
		t.Errorf("ATR % X, want % X", ev.ATR, testATR)
	}
	if ev.Tech != reader.TechISO14443A {
		t.Errorf("tech %v, want %v", ev.Tech, reader.TechISO14443A)
	}
	if !bytes.Equal(ev.UID, testUID) {
		t.Errorf("UID % X, want % X", ev.UID, testUID)
	}
	pc, ok := ev.Card.(*Card)
	if !ok {
		t.Fatalf("Card is %T", ev.Card)
	}

	// The reader lists the card while it is in the field.
	st, err := ListReaders(ctx, Options{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(st, func(s ReaderStatus) bool { return s.Name == vpcdReader }); i < 0 || !st[i].Present || !bytes.Equal(st[i].ATR, testATR) || !st[i].InUse {
		t.Errorf("listed while tapped: %+v", st)
	}

	// APDUs reach the responder and its answers come back.
	drivertest.CheckExchanges(ctx, t, pc)

	// Removal, re-tap, a card torn mid-command, and back after the tear.
	rm := drivertest.CheckRemoval(ctx, t, drivertest.Field{
		Tap:    func() { rg.slot.Present(card) },
		Remove: rg.slot.Remove,
		Next:   rg.next,
	}, pc)
	if rm.Reader != "pcsc:"+vpcdReader {
		t.Errorf("removal reader %q", rm.Reader)
	}
}

// TestRunStopsOnCancel checks that a Run blocked in a status wait returns
// promptly when its context ends (SCardCancel / stop waiting).
func TestRunStopsOnCancel(t *testing.T) {
	needPCSCD(t)
	for _, be := range Backends() {
		t.Run(string(be), func(t *testing.T) {
			r, err := NewReader(vpcdReader2, Options{Backend: be})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx, make(chan reader.Event)) }()
			// Let Run reach its wait: pcscd answers its table first.
			time.Sleep(100 * time.Millisecond) // not synchronising: Run must stop from any point
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not stop within 5s of cancel")
			}
		})
	}
}
