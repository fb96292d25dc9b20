package drivertest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/openykt/yktd/reader"
)

// EchoATR returns the ATR a PC/SC reader builds for a contactless ISO
// 14443-4 type A card: 3B 8A 80 01, ten historical bytes (the ATS's), TCK.
// The echo cards of the driver tests answer it.
func EchoATR() []byte {
	atr := []byte{0x3B, 0x8A, 0x80, 0x01, 0x00, 0x31, 0xC1, 0x64, 0x08, 0x60, 0x32, 0x06, 0x07, 0x00}
	var x byte
	for _, c := range atr[1:] {
		x ^= c
	}
	return append(atr, x)
}

// ErrTorn is what Echo returns for INS DD: the card leaves the field in
// the middle of the command.
var ErrTorn = errors.New("drivertest: torn away")

// Echo answers cmd as the echo card of the conformance walk: 00 B0 echoes
// P1 P2 with 9000, INS DD tears the card (ErrTorn), everything else
// answers 6D00. Driver tests wrap it in their simulator's card type and
// may answer more commands first.
func Echo(cmd []byte) ([]byte, error) {
	switch {
	case len(cmd) >= 4 && cmd[1] == 0xB0:
		return []byte{cmd[2], cmd[3], 0x90, 0x00}, nil
	case len(cmd) >= 2 && cmd[1] == 0xDD:
		return nil, ErrTorn
	}
	return []byte{0x6D, 0x00}, nil
}

// Field is the reader under test with an echo card (see Echo) at hand.
type Field struct {
	// Tap puts the echo card in the reader's field.
	Tap func()
	// Remove takes it out.
	Remove func()
	// Next waits (bounded) for the reader's next event and fails the test
	// unless it is of kind want.
	Next func(want reader.EventKind) reader.Event
}

// CheckExchanges checks that APDUs reach the echo card c and its answers
// come back, and that a status word is no error through reader.Exchange.
func CheckExchanges(ctx context.Context, t testing.TB, c reader.Card) {
	t.Helper()
	for p := byte(0); p < 3; p++ {
		rsp, err := c.Transmit(ctx, []byte{0x00, 0xB0, p, 0x10, 0x00})
		if err != nil {
			t.Fatalf("Transmit: %v", err)
		}
		if want := []byte{p, 0x10, 0x90, 0x00}; !bytes.Equal(rsp, want) {
			t.Fatalf("response % X, want % X", rsp, want)
		}
	}
	resp, err := reader.Exchange(ctx, c, reader.Command{CLA: 0x80, INS: 0x10})
	if err != nil || resp.SW != reader.SWInsNotSupported {
		t.Fatalf("Exchange = %v, %v; want SW 6D00", resp, err)
	}
}

// CheckRemoval walks the rest of the contract with the echo card c in the
// field of f: removal gives a CardRemoved event and ErrCardRemoved on c; a
// new tap gives a fresh handle that works; a card torn mid-command gives
// ErrCardRemoved and a CardRemoved event; and the card comes back after
// the tear, in the field when CheckRemoval returns. It returns the first
// removal event for the caller's own checks.
func CheckRemoval(ctx context.Context, t testing.TB, f Field, c reader.Card) reader.Event {
	t.Helper()
	f.Remove()
	rm := f.Next(reader.CardRemoved)
	if _, err := c.Transmit(ctx, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("Transmit after removal = %v, want ErrCardRemoved", err)
	}

	f.Tap()
	ev := f.Next(reader.CardPresent)
	if _, err := ev.Card.Transmit(ctx, []byte{0x00, 0xB0, 0x00, 0x01, 0x00}); err != nil {
		t.Fatalf("Transmit after re-tap: %v", err)
	}

	if _, err := ev.Card.Transmit(ctx, []byte{0x80, 0xDD, 0x00, 0x00, 0x00}); !errors.Is(err, reader.ErrCardRemoved) {
		t.Fatalf("Transmit on a torn card = %v, want ErrCardRemoved", err)
	}
	f.Next(reader.CardRemoved)

	f.Tap()
	f.Next(reader.CardPresent)
	return rm
}
