package pn532

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Frame identifiers (TFI) of information frames.
const (
	TFIHost   byte = 0xD4 // host controller to PN532
	TFIModule byte = 0xD5 // PN532 to host controller
)

// Frame length limits (PN532 user manual section 6.2.1.2/6.2.1.3). LEN
// counts TFI and data.
const (
	// MaxNormalData is the most data (command code included) a normal
	// information frame carries: LEN 255 minus the TFI.
	MaxNormalData = 254
	// MaxFrameData is the most data an extended information frame carries
	// (LEN 265 minus the TFI): InDataExchange's 262 bytes plus command code,
	// target number and status.
	MaxFrameData = 264
)

// Errors of the frame layer. ErrFrame (and ErrChecksum, which wraps it)
// wrap reader.ErrMalformed, so that a caller of Card.Transmit can test
// either.
var (
	// ErrFrame: bytes that start like a frame but are not a valid one
	// (zero or oversized length, unknown frame identifier, wrong response
	// code).
	ErrFrame = fmt.Errorf("pn532: bad frame: %w", reader.ErrMalformed)
	// ErrChecksum: a frame whose length checksum (LCS) or data checksum
	// (DCS) does not add up.
	ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrFrame)
	// ErrIncomplete: the buffer ends before the frame does; feed more bytes.
	ErrIncomplete = errors.New("pn532: incomplete frame")
)

// Kind tells the frames apart.
type Kind int

// Frame kinds.
const (
	KindInfo  Kind = iota + 1 // normal or extended information frame
	KindACK                   // 00 00 FF 00 FF 00
	KindNACK                  // 00 00 FF FF 00 00
	KindError                 // application-level error frame: 00 00 FF 01 FF 7F 81 00
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindInfo:
		return "info"
	case KindACK:
		return "ack"
	case KindNACK:
		return "nack"
	case KindError:
		return "error"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Frame is one decoded frame. For information frames TFI is TFIHost or
// TFIModule and Data starts with the command (or response) code.
type Frame struct {
	Kind Kind
	TFI  byte
	Data []byte
}

// Fixed frames.
var (
	ACKFrame   = []byte{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00}
	NACKFrame  = []byte{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00}
	ErrorFrame = []byte{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00}
)

// errorTFI is the single data byte of the error frame.
const errorTFI = 0x7F

// EncodeInfo returns the information frame carrying tfi and data: a normal
// frame when data fits 254 bytes, an extended frame up to 264, an error
// wrapping ErrFrame beyond (or for empty data).
func EncodeInfo(tfi byte, data []byte) ([]byte, error) {
	n := len(data) + 1 // LEN counts the TFI
	if len(data) == 0 || len(data) > MaxFrameData {
		return nil, fmt.Errorf("%w: %d data bytes (want 1 to %d)", ErrFrame, len(data), MaxFrameData)
	}
	out := make([]byte, 0, n+10)
	out = append(out, 0x00, 0x00, 0xFF)
	if len(data) <= MaxNormalData {
		out = append(out, byte(n), -byte(n))
	} else {
		hi, lo := byte(n>>8), byte(n)
		out = append(out, 0xFF, 0xFF, hi, lo, -(hi + lo))
	}
	sum := tfi
	out = append(out, tfi)
	for _, b := range data {
		sum += b
	}
	out = append(out, data...)
	return append(out, -sum, 0x00), nil
}

// DecodeFrame decodes the first frame in b. It returns the frame and the
// number of bytes consumed (garbage before the start code included). On an
// error, n says how many bytes to drop before trying again: ErrIncomplete
// drops only garbage that cannot start a frame; ErrChecksum and ErrFrame
// drop the bad start code, so that a stream resynchronises on the next
// 00 FF. The returned Data aliases b.
func DecodeFrame(b []byte) (f Frame, n int, err error) {
	start := bytes.Index(b, []byte{0x00, 0xFF})
	if start < 0 {
		n = len(b)
		if n > 0 && b[n-1] == 0x00 {
			n-- // may be the first byte of a start code
		}
		return Frame{}, n, ErrIncomplete
	}
	bad := start + 2 // drop through the start code on error
	i := start + 2
	if len(b) < i+2 {
		return Frame{}, start, ErrIncomplete
	}
	ln, lcs := b[i], b[i+1]
	switch {
	case ln == 0x00 && lcs == 0xFF:
		return Frame{Kind: KindACK}, i + 2, nil
	case ln == 0xFF && lcs == 0x00:
		return Frame{Kind: KindNACK}, i + 2, nil
	}
	var size int
	if ln == 0xFF && lcs == 0xFF {
		if len(b) < i+5 {
			return Frame{}, start, ErrIncomplete
		}
		hi, lo, xcs := b[i+2], b[i+3], b[i+4]
		if hi+lo+xcs != 0 {
			return Frame{}, bad, fmt.Errorf("%w: extended length checksum", ErrChecksum)
		}
		size = int(hi)<<8 | int(lo)
		i += 5
	} else {
		if ln+lcs != 0 {
			return Frame{}, bad, fmt.Errorf("%w: length checksum", ErrChecksum)
		}
		size = int(ln)
		i += 2
	}
	if size == 0 || size > MaxFrameData+1 {
		return Frame{}, bad, fmt.Errorf("%w: length %d", ErrFrame, size)
	}
	if len(b) < i+size+1 {
		return Frame{}, start, ErrIncomplete
	}
	body := b[i : i+size]
	var sum byte
	for _, c := range body {
		sum += c
	}
	if sum+b[i+size] != 0 {
		return Frame{}, bad, fmt.Errorf("%w: data checksum", ErrChecksum)
	}
	n = i + size + 1
	switch {
	case size == 1 && body[0] == errorTFI:
		return Frame{Kind: KindError}, n, nil
	case size < 2:
		return Frame{}, bad, fmt.Errorf("%w: information frame without data", ErrFrame)
	case body[0] != TFIHost && body[0] != TFIModule:
		return Frame{}, bad, fmt.Errorf("%w: frame identifier 0x%02X", ErrFrame, body[0])
	}
	return Frame{Kind: KindInfo, TFI: body[0], Data: body[1:]}, n, nil
}

// maxBuffered bounds a Decoder's buffer: a frame is at most 274 bytes, so
// more than this without a frame is garbage.
const maxBuffered = 4 * (MaxFrameData + 10)

// Decoder decodes a byte stream into frames, resynchronising after garbage
// and bad frames. The zero value is ready to use.
type Decoder struct {
	buf []byte
}

// Write appends stream bytes; it never fails.
func (d *Decoder) Write(p []byte) (int, error) {
	d.buf = append(d.buf, p...)
	if len(d.buf) > maxBuffered {
		// Keep the tail: a frame cannot be longer than that.
		d.buf = append(d.buf[:0], d.buf[len(d.buf)-(MaxFrameData+10):]...)
	}
	return len(p), nil
}

// Next returns the next frame, or an error wrapping ErrChecksum or ErrFrame
// for bad bytes it skipped (call again: it has moved on), or ErrIncomplete
// when it needs more bytes. The frame's Data is a copy.
func (d *Decoder) Next() (Frame, error) {
	f, n, err := DecodeFrame(d.buf)
	if err == nil {
		f.Data = bytes.Clone(f.Data)
	}
	d.buf = append(d.buf[:0], d.buf[n:]...)
	return f, err
}

// Reset drops any buffered bytes.
func (d *Decoder) Reset() { d.buf = d.buf[:0] }
