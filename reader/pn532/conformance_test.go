package pn532_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/pn532"
	"github.com/openykt/yktd/reader/pn532/pn532sim"
	"github.com/openykt/yktd/reader/readertest/drivertest"
)

// TestConformance walks the reader.Reader and reader.Card contract as the
// PC/SC driver's conformance test does: tap, APDUs, status words, removal,
// re-tap, a card torn mid-command.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	rg := newRig(t)
	card := echoCard{}
	rg.mod.Tap(card)
	ev := rg.next(reader.CardPresent)
	if ev.Reader != "pn532:"+rg.pty.SlavePath || rg.r.Name() != ev.Reader {
		t.Errorf("event reader %q, Name %q", ev.Reader, rg.r.Name())
	}
	if !bytes.Equal(ev.ATR, card.ATR()) || ev.Tech != reader.TechISO14443A || !bytes.Equal(ev.UID, card.UID()) {
		t.Errorf("present: %v, want ATR % X UID % X", ev, card.ATR(), card.UID())
	}
	pc, ok := ev.Card.(*pn532.Card)
	if !ok {
		t.Fatalf("Card is %T", ev.Card)
	}
	if tg := pc.Target(); tg.Tg != 1 || !tg.ISO14443_4() || tg.SensRes != [2]byte{0x00, 0x04} {
		t.Errorf("target %+v", tg)
	}

	drivertest.CheckExchanges(ctx, t, pc)

	// Long answers come in extended frames: 256 data bytes + SW.
	rsp, err := pc.Transmit(ctx, []byte{0x00, 0xCA, 0x00, 0x00, 0x00})
	if err != nil || len(rsp) != 258 || !bytes.Equal(rsp[256:], []byte{0x90, 0x00}) {
		t.Fatalf("long response: %d bytes, %v", len(rsp), err)
	}
	// The longest APDU InDataExchange carries goes out (extended frame);
	// one byte more is refused before anything is sent.
	long := append([]byte{0x00, 0xB0, 0x01, 0x02}, make([]byte, pn532.MaxAPDU-4)...)
	if rsp, err := pc.Transmit(ctx, long); err != nil || !bytes.Equal(rsp, []byte{0x01, 0x02, 0x90, 0x00}) {
		t.Fatalf("%d-byte APDU: % X, %v", len(long), rsp, err)
	}
	before := rg.mod.Stats().Commands[pn532.CmdInDataExchange]
	if _, err := pc.Transmit(ctx, append(long, 0x00)); !errors.Is(err, pn532.ErrTooLong) {
		t.Fatalf("%d-byte APDU: %v, want ErrTooLong", len(long)+1, err)
	}
	if got := rg.mod.Stats().Commands[pn532.CmdInDataExchange]; got != before {
		t.Fatalf("a refused APDU reached the module (%d exchanges, was %d)", got, before)
	}

	// Removal, re-tap, a card torn mid-command, and back after the tear.
	drivertest.CheckRemoval(ctx, t, drivertest.Field{
		Tap:    func() { rg.mod.Tap(card) },
		Remove: rg.mod.Remove,
		Next:   rg.next,
	}, pc)

	// The module was woken with 55 55 and set to normal mode.
	st := rg.mod.Stats()
	if st.Wakeups != 1 || st.Commands[pn532.CmdSAMConfiguration] != 1 || st.Commands[pn532.CmdRFConfiguration] != 1 {
		t.Errorf("module stats %+v", st)
	}
	if st.Commands[pn532.CmdInRelease] < 2 || st.Commands[pn532.CmdDiagnose] == 0 {
		t.Errorf("released %d cards, %d presence checks", st.Commands[pn532.CmdInRelease], st.Commands[pn532.CmdDiagnose])
	}
}

// TestMifareClassic: a card without ISO 14443-4 is announced by UID (for
// identity-only gates), refuses APDUs, and its removal is seen by listing
// it again.
func TestMifareClassic(t *testing.T) {
	rg := newRig(t)
	rg.mod.Tap(mifareCard{})
	ev := rg.next(reader.CardPresent)
	if ev.Tech != reader.TechMifare || !bytes.Equal(ev.UID, mifareCard{}.UID()) || ev.ATR != nil {
		t.Fatalf("present: %v", ev)
	}
	if _, err := ev.Card.Transmit(context.Background(), readCmd); !errors.Is(err, reader.ErrTransport) {
		t.Fatalf("APDU to a MIFARE Classic card: %v, want ErrTransport", err)
	}
	if got := rg.mod.Stats().Commands[pn532.CmdInDataExchange]; got != 0 {
		t.Fatalf("%d InDataExchange sent to a MIFARE Classic card", got)
	}
	// Still there across several presence checks.
	before := rg.mod.Stats().Commands[pn532.CmdInListPassiveTarget]
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := rg.mod.WaitFor(ctx, func(s pn532sim.Stats) bool { return s.Commands[pn532.CmdInListPassiveTarget] >= before+3 }); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-rg.events:
		t.Fatalf("event %v while the card stays", ev)
	default:
	}
	rg.mod.Remove()
	rg.next(reader.CardRemoved)
}
