package qrscan

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// chunks returns its chunks one per Read, then err (io.EOF if nil).
type chunks struct {
	parts []string
	err   error
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

// readAll returns every code until the first error.
func readAll(lr *LineReader) ([]string, error) {
	var codes []string
	for {
		code, err := lr.Next()
		if err != nil {
			return codes, err
		}
		codes = append(codes, code)
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		f     Framing
		want  []string
		stats Stats
	}{
		{"one code", []string{"HELLO\r"}, Framing{}, []string{"HELLO"}, Stats{Codes: 1}},
		{"split across reads", []string{"AB", "CD", "EF\rG", "H\r"}, Framing{}, []string{"ABCDEF", "GH"}, Stats{Codes: 2}},
		{"burst in one read", []string{"A1\rB2\rC3\r"}, Framing{}, []string{"A1", "B2", "C3"}, Stats{Codes: 3}},
		{"CR terminator, scanner sends CRLF", []string{"A\r\nB\r\n"}, Framing{Terminator: "\r"}, []string{"A", "B"}, Stats{Codes: 2}},
		{"CRLF terminator", []string{"A\r", "\nB\r\n"}, Framing{Terminator: "\r\n"}, []string{"A", "B"}, Stats{Codes: 2}},
		{"LF terminator", []string{"A\nB\r\n"}, Framing{Terminator: "lf"}, []string{"A", "B"}, Stats{Codes: 2}},
		{"empty lines skipped", []string{"\r\r\rA\r\r"}, Framing{}, []string{"A"}, Stats{Codes: 1}},
		{"exactly max length", []string{"ABCD\r"}, Framing{MaxLen: 4}, []string{"ABCD"}, Stats{Codes: 1}},
		{"over-long line discarded", []string{"ABCDEFGHIJ\rOK\r"}, Framing{MaxLen: 4}, []string{"OK"}, Stats{Codes: 1, Overlong: 1}},
		{"over-long across reads", []string{"ABCDEF", "GHIJKL", "MN\rOK", "\r"}, Framing{MaxLen: 4}, []string{"OK"}, Stats{Codes: 1, Overlong: 1}},
		{"one over max length", []string{"ABCDE\rOK\r"}, Framing{MaxLen: 4}, []string{"OK"}, Stats{Codes: 1, Overlong: 1}},
		{"binary garbage", []string{"\x00\x01\xff\xfe\rOK\r"}, Framing{}, []string{"OK"}, Stats{Codes: 1, Garbage: 1}},
		{"control byte inside", []string{"AB\x07CD\rOK\r"}, Framing{}, []string{"OK"}, Stats{Codes: 1, Garbage: 1}},
		{"invalid UTF-8", []string{"\xc3\x28\rOK\r"}, Framing{}, []string{"OK"}, Stats{Codes: 1, Garbage: 1}},
		{"UTF-8 text", []string{"校园码 v1\r"}, Framing{}, []string{"校园码 v1"}, Stats{Codes: 1}},
		{"AIM prefix stripped", []string{"]Q1ABC\rXYZ\r"}, Framing{Prefix: "]Q1"}, []string{"ABC", "XYZ"}, Stats{Codes: 2}},
		{"STX ETX stripped", []string{"\x02CODE\x03\r"}, Framing{Prefix: "\x02", Suffix: "\x03"}, []string{"CODE"}, Stats{Codes: 1}},
		{"prefix only line skipped", []string{"]Q1\rA\r"}, Framing{Prefix: "]Q1"}, []string{"A"}, Stats{Codes: 1}},
		{"partial line at EOF dropped", []string{"A\rPARTIAL"}, Framing{}, []string{"A"}, Stats{Codes: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			lr := NewLineReader(&chunks{parts: slices.Clone(tt.parts)}, tt.f, slog.New(slog.NewTextHandler(&log, nil)))
			got, err := readAll(lr)
			if !errors.Is(err, io.EOF) {
				t.Errorf("err = %v, want io.EOF", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("codes %q, want %q", got, tt.want)
			}
			if s := lr.Stats(); s != tt.stats {
				t.Errorf("stats %+v, want %+v", s, tt.stats)
			}
			if (tt.stats.Garbage+tt.stats.Overlong > 0) != strings.Contains(log.String(), "qrscan: line") {
				t.Errorf("log %q", log.String())
			}
			// The same stream byte by byte gives the same codes.
			lr = NewLineReader(iotest.OneByteReader(&chunks{parts: slices.Clone(tt.parts)}), tt.f, slog.New(slog.DiscardHandler))
			if got, _ := readAll(lr); !slices.Equal(got, tt.want) {
				t.Errorf("byte by byte: codes %q, want %q", got, tt.want)
			}
		})
	}
}

// A rejected line is logged by its length, never its content.
func TestLineReaderLogsNoCode(t *testing.T) {
	var log bytes.Buffer
	lr := NewLineReader(strings.NewReader("SECRET-TOKEN\x00\rSECRET-TOKEN-THAT-IS-TOO-LONG\r"), Framing{MaxLen: 16}, slog.New(slog.NewTextHandler(&log, nil)))
	if codes, _ := readAll(lr); len(codes) != 0 {
		t.Fatalf("codes %q", codes)
	}
	if strings.Contains(log.String(), "SECRET") || strings.Count(log.String(), "qrscan: line") != 2 {
		t.Errorf("log %q", log.String())
	}
}

func TestLineReaderErrors(t *testing.T) {
	boom := errors.New("port gone")
	lr := NewLineReader(iotest.DataErrReader(&chunks{parts: []string{"A\rB"}, err: boom}), Framing{}, slog.New(slog.DiscardHandler))
	if code, err := lr.Next(); code != "A" || err != nil {
		t.Fatalf("Next = %q, %v", code, err)
	}
	if _, err := lr.Next(); !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
	if _, err := lr.Next(); !errors.Is(err, boom) {
		t.Errorf("second call: err = %v", err)
	}

	lr = NewLineReader(emptyReader{}, Framing{}, nil)
	if _, err := lr.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("empty reads: err = %v", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestFramingValidate(t *testing.T) {
	for _, f := range []Framing{
		{Terminator: "\t"},
		{Terminator: "\n\r"},
		{MaxLen: -1},
		{MaxLen: LimitMaxLen + 1},
		{Prefix: "a\rb"},
	} {
		if err := f.Validate(); !errors.Is(err, ErrFraming) {
			t.Errorf("%+v: err = %v", f, err)
		}
	}
	for _, term := range []string{"", "\r", "\n", "\r\n", "CR", "lf", "crlf"} {
		if err := (Framing{Terminator: term}).Validate(); err != nil {
			t.Errorf("%q: %v", term, err)
		}
	}
}
