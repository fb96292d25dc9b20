// Package vpcd is the card side of vsmartcard's vpcd protocol: it puts a
// virtual card (see reader/sim) into a virtual reader of a real pcscd, so
// that applications using PC/SC (yktd's reader/pcsc, pcsc_scan, opensc)
// talk to it as to a card on a reader.
//
// The vpcd driver, loaded by pcscd, listens on TCP (Debian configures
// 127.0.0.1:35963 for the reader "Virtual PCD 00 00" and :35964 for
// "Virtual PCD 00 01"). The card side connects; while the connection is up
// the card is in the field, and closing it takes the card away. Every
// message in both directions is a frame: a 2-byte big-endian length and
// the payload. The driver sends 1-byte control frames (CtrlPowerOff,
// CtrlPowerOn, CtrlReset: no answer; CtrlATR: answered with the ATR) and
// longer frames carrying a command APDU, answered with the response APDU.
// pcscd polls presence by asking for the ATR about every 400 ms.
//
// A Slot keeps one virtual reader slot: Present taps a card (connect, with
// backoff while vpcd is not up), Remove takes it away (disconnect). When the
// card's Respond fails (the card was torn mid-command) the Slot drops the
// connection so that pcscd reports the removal, and stays empty until the
// card is presented again.
package vpcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
)

// DefaultAddr is the first vpcd reader slot of Debian's vpcd configuration.
const DefaultAddr = "127.0.0.1:35963"

// Card is the card-side object behind a virtual reader: sim.Card (a virtual
// e-purse) and sim.PSAMCard implement it.
type Card interface {
	// ATR returns the answer to reset.
	ATR() []byte
	// Reset returns the card to its power-on state (volatile state lost).
	Reset()
	// Respond answers one command APDU with a response APDU (status word
	// included). A non-nil error means that no response left the card: it
	// was torn away or removed mid-command.
	Respond(cmd []byte) ([]byte, error)
}

// ErrTorn is returned by Serve when the card's Respond failed: the card
// left the field during a command.
var ErrTorn = errors.New("vpcd: card torn during a command")

// Serve answers the driver's frames on conn with card until the driver
// closes the connection (nil), ctx is done (ctx.Err()), the card is torn
// (an error wrapping ErrTorn and the card's error) or the stream breaks.
// Serve does not close conn, but on ctx.Done it sets a past deadline on
// conn when conn is a net.Conn to interrupt the read.
func Serve(ctx context.Context, conn io.ReadWriter, card Card) error {
	if nc, ok := conn.(net.Conn); ok {
		stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
		defer stop()
	}
	for {
		frame, err := ReadFrame(conn)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("vpcd: read: %w", err)
		}
		var answer []byte
		if len(frame) == 1 {
			switch frame[0] {
			case CtrlPowerOff:
				continue
			case CtrlPowerOn, CtrlReset:
				card.Reset()
				continue
			case CtrlATR:
				answer = card.ATR()
			default:
				return fmt.Errorf("%w: unknown control byte 0x%02X", ErrFrame, frame[0])
			}
		} else {
			answer, err = card.Respond(frame)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrTorn, err)
			}
		}
		if len(answer) == 0 {
			// vpcd reads a zero-length frame as a dead card; say so.
			return fmt.Errorf("vpcd: card gave an empty answer to a %d-byte frame", len(frame))
		}
		if err := WriteFrame(conn, answer); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("vpcd: write: %w", err)
		}
	}
}
