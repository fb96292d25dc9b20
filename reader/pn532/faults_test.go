package pn532_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pn532"
	"github.com/openykt/yktd/reader/pn532/pn532sim"
)

var readCmd = []byte{0x00, 0xB0, 0x00, 0x07, 0x00}

// tapped is a rig with the echo card announced.
func tapped(t *testing.T) (*rig, *pn532.Card) {
	t.Helper()
	rg := newRig(t)
	rg.mod.Tap(echoCard{})
	ev := rg.next(reader.CardPresent)
	return rg, ev.Card.(*pn532.Card)
}

// TestLinkFaults injects each module fault on one InDataExchange and
// checks the typed error (or the recovery), and that the link works again
// afterwards.
func TestLinkFaults(t *testing.T) {
	x := pn532.CmdInDataExchange
	tests := []struct {
		name      string
		fault     pn532sim.Fault
		wantErr   error         // nil: the driver recovers
		wantNACKs int           // NACKs the module must have received
		wantCmds  int           // InDataExchange frames the module must have taken
		removed   bool          // a CardRemoved event follows
		expire    time.Duration // the timeout that expires
	}{
		{name: "garbled once", fault: pn532sim.Fault{Kind: pn532sim.Garble, Cmd: x}, wantNACKs: 1, wantCmds: 1},
		{name: "garbled ACK", fault: pn532sim.Fault{Kind: pn532sim.GarbleACK, Cmd: x}, wantCmds: 1},
		{name: "bad checksum once", fault: pn532sim.Fault{Kind: pn532sim.BadChecksum, Cmd: x}, wantNACKs: 1, wantCmds: 1},
		{name: "bad checksum twice", fault: pn532sim.Fault{Kind: pn532sim.BadChecksum, Cmd: x, Times: 2}, wantNACKs: 2, wantCmds: 1},
		{name: "bad checksum persists", fault: pn532sim.Fault{Kind: pn532sim.BadChecksum, Cmd: x, Times: 3}, wantErr: pn532.ErrChecksum, wantNACKs: 2, wantCmds: 1},
		{name: "garbled persists", fault: pn532sim.Fault{Kind: pn532sim.Garble, Cmd: x, Times: 3}, wantErr: reader.ErrMalformed, wantNACKs: 2, wantCmds: 1},
		{name: "module NACKs the frame once", fault: pn532sim.Fault{Kind: pn532sim.RefuseFrame, Cmd: x}, wantCmds: 2},
		{name: "module NACKs the frame always", fault: pn532sim.Fault{Kind: pn532sim.RefuseFrame, Cmd: x, Times: 3}, wantErr: pn532.ErrNACK, wantCmds: 3},
		{name: "silent module", fault: pn532sim.Fault{Kind: pn532sim.Silent, Cmd: x}, wantErr: reader.ErrTimeout, wantCmds: 1, expire: ackTimeout},
		{name: "ACK but no response", fault: pn532sim.Fault{Kind: pn532sim.NoResponse, Cmd: x}, wantErr: reader.ErrTimeout, wantCmds: 1, expire: exchangeTimeout},
		{name: "card mute once", fault: pn532sim.Fault{Kind: pn532sim.MuteCard, Cmd: x}, wantErr: reader.ErrTimeout, wantCmds: 1},
		{name: "card removed mid-exchange", fault: pn532sim.Fault{Kind: pn532sim.RemoveCard, Cmd: x}, wantErr: reader.ErrCardRemoved, wantCmds: 1, removed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rg, card := tapped(t)
			ctx := context.Background()
			before := rg.mod.Stats()
			rg.mod.Arm(tt.fault)
			type result struct {
				rsp []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				rsp, err := card.Transmit(ctx, readCmd)
				done <- result{rsp, err}
			}()
			if tt.expire != 0 {
				// Once the module has the command, the pending timer is
				// this exchange's (commands hold the link one at a time).
				wctx, cancel := context.WithTimeout(ctx, waitLimit)
				defer cancel()
				if err := rg.mod.WaitFor(wctx, func(s pn532sim.Stats) bool { return s.Commands[x] > before.Commands[x] }); err != nil {
					t.Fatal(err)
				}
				rg.timers.fire(t, tt.expire)
			}
			var rsp []byte
			var err error
			select {
			case res := <-done:
				rsp, err = res.rsp, res.err
			case <-time.After(waitLimit):
				t.Fatal("Transmit did not return")
			}
			if tt.wantErr == nil {
				if err != nil || len(rsp) != 4 || rsp[1] != 0x07 {
					t.Fatalf("Transmit = % X, %v; want a recovered exchange", rsp, err)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Transmit = % X, %v; want %v", rsp, err, tt.wantErr)
			}
			if !tt.removed && errors.Is(err, reader.ErrCardRemoved) {
				t.Fatalf("Transmit = %v: the card did not leave", err)
			}
			st := rg.mod.Stats()
			if got := st.NACKs - before.NACKs; got != tt.wantNACKs {
				t.Errorf("module received %d NACKs, want %d", got, tt.wantNACKs)
			}
			if got := st.Commands[x] - before.Commands[x]; got != tt.wantCmds {
				t.Errorf("module took %d InDataExchange frames, want %d", got, tt.wantCmds)
			}
			if tt.removed {
				rg.next(reader.CardRemoved)
				rg.mod.Tap(echoCard{})
				card = rg.next(reader.CardPresent).Card.(*pn532.Card)
			}
			if _, err := card.Transmit(ctx, readCmd); err != nil {
				t.Fatalf("Transmit after the fault: %v", err)
			}
		})
	}
}

// TestTransmitCancel: a Transmit waiting for a module that never answers
// returns when its context is cancelled, long before the exchange timeout.
func TestTransmitCancel(t *testing.T) {
	rg := newRig(t)
	rg.mod.Tap(echoCard{})
	card := rg.next(reader.CardPresent).Card
	rg.mod.Arm(pn532sim.Fault{Kind: pn532sim.NoResponse, Cmd: pn532.CmdInDataExchange})
	before := rg.mod.Stats()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := card.Transmit(ctx, readCmd)
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), waitLimit)
	defer wcancel()
	if err := rg.mod.WaitFor(wctx, func(s pn532sim.Stats) bool {
		return s.Commands[pn532.CmdInDataExchange] > before.Commands[pn532.CmdInDataExchange]
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, reader.ErrTimeout) {
			t.Fatalf("Transmit = %v, want ErrTimeout and context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Transmit did not return after cancel")
	}
	// The driver aborted the command with an ACK, and the link still works.
	if err := rg.mod.WaitFor(wctx, func(s pn532sim.Stats) bool { return s.ACKs > before.ACKs }); err != nil {
		t.Fatalf("no abort ACK: %v", err)
	}
	if _, err := card.Transmit(context.Background(), readCmd); err != nil {
		t.Fatalf("Transmit after cancel: %v", err)
	}
}

// TestSilentModule: a module that never answers makes Run fail with a
// transport error (which reader.Manager retries) that says it timed out.
func TestSilentModule(t *testing.T) {
	p, mod := newPTYModule(t)
	mod.Arm(pn532sim.Fault{Kind: pn532sim.Silent, Cmd: pn532sim.AnyCommand, Times: -1})
	o, timers := fastOptions(&testbuf.Buffer{})
	r := pn532.New(p.SlavePath, o)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), make(chan reader.Event)) }()
	timers.fire(t, ackTimeout)
	select {
	case err := <-done:
		if !errors.Is(err, reader.ErrTransport) || !errors.Is(err, reader.ErrTimeout) {
			t.Fatalf("Run = %v, want ErrTransport and ErrTimeout", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not fail")
	}
}

// TestNoPort: a device that does not exist is a transport error.
func TestNoPort(t *testing.T) {
	r := pn532.New(t.TempDir()+"/ttyUSB9", pn532.Options{})
	err := r.Run(context.Background(), make(chan reader.Event))
	if !errors.Is(err, reader.ErrTransport) {
		t.Fatalf("Run = %v, want ErrTransport", err)
	}
}

// TestUnplugged: closing the module's side of the line fails Run with a
// transport error after CardRemoved for the card it held, and the card
// fails with ErrCardRemoved.
func TestUnplugged(t *testing.T) {
	p, mod := newPTYModule(t)
	mod.Tap(echoCard{})
	o, _ := fastOptions(&testbuf.Buffer{})
	r := pn532.New(p.SlavePath, o)
	events := make(chan reader.Event, 4)
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(context.Background(), events) }()
	card := nextEvent(t, events, reader.CardPresent).Card
	if err := mod.Unplug(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, events, reader.CardRemoved)
	select {
	case err := <-runErr:
		if !errors.Is(err, reader.ErrTransport) {
			t.Fatalf("Run = %v, want ErrTransport", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not fail after unplug")
	}
	if _, err := card.Transmit(context.Background(), readCmd); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("Transmit after unplug = %v, want ErrCardRemoved", err)
	}
}

// TestFirmware: the probe of `yktd reader list` wakes the module and
// reads its version; a silent module is a timeout.
func TestFirmware(t *testing.T) {
	p, mod := newPTYModule(t)
	o, timers := fastOptions(&testbuf.Buffer{})
	r := pn532.New(p.SlavePath, o)
	fw, err := r.Firmware(context.Background())
	if err != nil || fw.IC != 0x32 || fw.String() != "PN532 v1.6 support 07" {
		t.Fatalf("Firmware = %v, %v", fw, err)
	}
	mod.Arm(pn532sim.Fault{Kind: pn532sim.Silent, Cmd: pn532sim.AnyCommand})
	done := make(chan error, 1)
	go func() {
		_, err := r.Firmware(context.Background())
		done <- err
	}()
	timers.fire(t, ackTimeout)
	select {
	case err := <-done:
		if !errors.Is(err, reader.ErrTimeout) {
			t.Fatalf("silent module: %v, want ErrTimeout", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Firmware did not return")
	}
}
