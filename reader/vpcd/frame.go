package vpcd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Control frames the driver (vpcd, inside pcscd) sends to the card: one
// byte each. Every longer frame is a command APDU.
const (
	CtrlPowerOff byte = 0 // power the card off; no answer
	CtrlPowerOn  byte = 1 // power the card on; no answer
	CtrlReset    byte = 2 // warm reset; no answer
	CtrlATR      byte = 4 // answer with the card's ATR
)

// MaxFrame is the largest frame the protocol can carry: the length prefix
// is 16 bits.
const MaxFrame = 0xFFFF

// ErrFrame reports a frame that cannot be read or written: a stream cut in
// the middle of a frame, a zero-length frame, or a payload too long for the
// 16-bit length prefix.
var ErrFrame = errors.New("vpcd: bad frame")

// ReadFrame reads one frame: a 2-byte big-endian length and that many bytes.
// It returns io.EOF when the stream ends cleanly between frames. A
// zero-length frame is an error: vpcd never sends one.
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated length prefix", ErrFrame)
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, fmt.Errorf("%w: zero-length frame", ErrFrame)
	}
	buf := make([]byte, n) // bounded by MaxFrame
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: stream ended inside a %d-byte frame", ErrFrame, n)
		}
		return nil, err
	}
	return buf, nil
}

// WriteFrame writes b as one frame in a single Write call.
func WriteFrame(w io.Writer, b []byte) error {
	if len(b) > MaxFrame {
		return fmt.Errorf("%w: %d bytes exceed the 16-bit length prefix", ErrFrame, len(b))
	}
	buf := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(buf, uint16(len(b)))
	copy(buf[2:], b)
	_, err := w.Write(buf)
	return err
}
