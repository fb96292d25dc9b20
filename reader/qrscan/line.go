package qrscan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// ErrFraming marks Framing settings that cannot work (an unknown
// terminator, a negative or huge maximum length).
var ErrFraming = errors.New("qrscan: bad framing")

// Limits of Framing.MaxLen.
const (
	// DefaultMaxLen is the longest code accepted when Framing.MaxLen is
	// zero: a campus QR token (COSE_Sign1 in base45) fits with room.
	DefaultMaxLen = 2048
	// LimitMaxLen is the largest MaxLen allowed.
	LimitMaxLen = 64 << 10
)

// Framing says how a scanner frames its codes on the line.
type Framing struct {
	// Terminator ends each code: "\r" (the default of most scanners, also
	// written "cr"), "\n" ("lf") or "\r\n" ("crlf"). "\n" and "\r\n" both
	// end a code at LF and drop a CR before it; with "\r", an LF at the
	// start of a line (a scanner sending CRLF) is skipped. "" means "\r".
	Terminator string
	// Prefix and Suffix are stripped from a code that starts or ends with
	// them (an AIM identifier, STX/ETX framing); codes without them pass
	// unchanged.
	Prefix, Suffix string
	// MaxLen is the longest code, after stripping, in bytes; 0 means
	// DefaultMaxLen. A longer line is discarded up to its terminator.
	MaxLen int
}

// ParseTerminator maps a configured terminator ("\r", "\n", "\r\n" or the
// names cr, lf, crlf; "" for the default "\r") to its bytes.
func ParseTerminator(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "\r", "cr":
		return "\r", nil
	case "\n", "lf":
		return "\n", nil
	case "\r\n", "crlf":
		return "\r\n", nil
	}
	return "", fmt.Errorf("%w: terminator %q: want \"\\r\", \"\\n\" or \"\\r\\n\" (cr, lf, crlf)", ErrFraming, s)
}

// Validate checks the framing; its errors wrap ErrFraming.
func (f Framing) Validate() error {
	if _, err := ParseTerminator(f.Terminator); err != nil {
		return err
	}
	if f.MaxLen < 0 || f.MaxLen > LimitMaxLen {
		return fmt.Errorf("%w: max length %d: want 0 to %d", ErrFraming, f.MaxLen, LimitMaxLen)
	}
	if strings.ContainsAny(f.Prefix+f.Suffix, "\r\n") {
		return fmt.Errorf("%w: prefix and suffix may not contain CR or LF", ErrFraming)
	}
	return nil
}

// Stats counts what a LineReader (or a Reader over all its runs) saw.
type Stats struct {
	Codes    uint64 // codes delivered
	Overlong uint64 // lines longer than MaxLen, discarded
	Garbage  uint64 // lines with control bytes or invalid UTF-8, rejected
}

type counters struct{ codes, overlong, garbage atomic.Uint64 }

func (c *counters) stats() Stats {
	return Stats{Codes: c.codes.Load(), Overlong: c.overlong.Load(), Garbage: c.garbage.Load()}
}

// maxEmptyReads is how many (0, nil) reads in a row make Next give up with
// io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// LineReader splits a scanner's byte stream into codes: it reassembles
// codes split across reads, returns a burst of codes one by one, discards
// over-long lines up to the next terminator and rejects lines with control
// bytes or invalid UTF-8 (binary garbage, a wrong baud rate). Every
// discarded line is logged (by its length, never its content: codes can be
// tokens) and counted. Not safe for concurrent use, except Stats.
type LineReader struct {
	r      io.Reader
	f      Framing
	end    byte
	rawMax int
	log    *slog.Logger
	c      *counters

	buf     [512]byte
	pos, n  int
	line    []byte
	discard bool
	err     error
	empty   int
}

// NewLineReader returns a LineReader over r. Invalid framing falls back to
// its defaults field by field (check it with Framing.Validate first); a
// nil log means slog.Default().
func NewLineReader(r io.Reader, f Framing, log *slog.Logger) *LineReader {
	return newLineReader(r, f, log, &counters{})
}

func newLineReader(r io.Reader, f Framing, log *slog.Logger, c *counters) *LineReader {
	term, err := ParseTerminator(f.Terminator)
	if err != nil {
		term = "\r"
	}
	f.Terminator = term
	if f.MaxLen <= 0 || f.MaxLen > LimitMaxLen {
		f.MaxLen = DefaultMaxLen
	}
	if log == nil {
		log = slog.Default()
	}
	return &LineReader{
		r:      r,
		f:      f,
		end:    term[len(term)-1],
		rawMax: f.MaxLen + len(f.Prefix) + len(f.Suffix) + 1,
		log:    log,
		c:      c,
	}
}

// Stats returns the counters of this LineReader.
func (l *LineReader) Stats() Stats { return l.c.stats() }

// Next returns the next valid code. It returns the underlying reader's
// error (io.EOF, a port error) once the codes complete before it are
// delivered; a partial line at that point is dropped. A reader that keeps
// returning no bytes and no error ends with io.ErrNoProgress.
func (l *LineReader) Next() (string, error) {
	for {
		for l.pos < l.n {
			c := l.buf[l.pos]
			l.pos++
			if c == l.end {
				if l.discard {
					l.discard = false
					l.line = l.line[:0]
					continue
				}
				code, ok := l.accept(l.line)
				l.line = l.line[:0]
				if ok {
					return code, nil
				}
				continue
			}
			if l.discard {
				continue
			}
			if len(l.line) >= l.rawMax {
				l.overlong(len(l.line) + 1)
				l.discard = true
				l.line = l.line[:0]
				continue
			}
			l.line = append(l.line, c)
		}
		if l.err != nil {
			return "", l.err
		}
		n, err := l.r.Read(l.buf[:])
		l.pos, l.n = 0, max(0, min(n, len(l.buf)))
		l.err = err
		if l.n == 0 && err == nil {
			l.empty++
			if l.empty >= maxEmptyReads {
				l.err = io.ErrNoProgress
			}
		} else {
			l.empty = 0
		}
	}
}

func (l *LineReader) overlong(n int) {
	l.c.overlong.Add(1)
	l.log.Warn("qrscan: line discarded: too long", "len_at_least", n, "max_len", l.f.MaxLen)
}

// accept turns a line without its terminator into a code.
func (l *LineReader) accept(line []byte) (string, bool) {
	if l.end == '\n' {
		line = bytes.TrimSuffix(line, []byte{'\r'})
	} else {
		line = bytes.TrimLeft(line, "\n")
	}
	if len(line) == 0 {
		return "", false
	}
	line = bytes.TrimPrefix(line, []byte(l.f.Prefix))
	line = bytes.TrimSuffix(line, []byte(l.f.Suffix))
	if len(line) == 0 {
		return "", false
	}
	if !printable(line) {
		l.c.garbage.Add(1)
		l.log.Warn("qrscan: line rejected: control bytes or invalid UTF-8", "len", len(line))
		return "", false
	}
	if len(line) > l.f.MaxLen {
		l.overlong(len(line))
		return "", false
	}
	l.c.codes.Add(1)
	return string(line), true
}

// printable reports whether b is valid UTF-8 of printable characters
// (letters, digits, punctuation, symbols and the ASCII space).
func printable(b []byte) bool {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			if b[0] < 0x20 || b[0] == 0x7f {
				return false
			}
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
		b = b[size:]
	}
	return true
}
