package qrscan

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// FuzzLineReader feeds arbitrary scanner output to a LineReader. It must
// not panic; every code it returns is printable UTF-8 within MaxLen and
// without a terminator; Stats counts them; and reading the same bytes one
// at a time gives the same codes.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("HC1:6BFOXN*TS0BI$ZD4N9\r"), uint8(0), 0, "", "")
	f.Add([]byte("A\r\nB\r\n\x00\x01\r\n"), uint8(2), 8, "]Q1", "")
	f.Add([]byte("\x02CODE\x03\n\xff\xfe\n"), uint8(1), 16, "\x02", "\x03")
	f.Add([]byte(strings.Repeat("X", 300)+"\rOK\r"), uint8(0), 100, "", "")
	f.Add([]byte("校园码\r\xc3\x28\r"), uint8(0), 0, "", "")
	terms := []string{"\r", "\n", "\r\n"}
	f.Fuzz(func(t *testing.T, data []byte, term uint8, maxLen int, prefix, suffix string) {
		fr := Framing{Terminator: terms[int(term)%len(terms)], MaxLen: maxLen, Prefix: prefix, Suffix: suffix}
		if fr.Validate() != nil {
			return
		}
		lr := NewLineReader(bytes.NewReader(data), fr, slog.New(slog.DiscardHandler))
		codes, _ := readAll(lr)
		limit := fr.MaxLen
		if limit == 0 {
			limit = DefaultMaxLen
		}
		for _, c := range codes {
			if c == "" || len(c) > limit || strings.ContainsAny(c, "\r\n") || !utf8.ValidString(c) || !printable([]byte(c)) {
				t.Fatalf("bad code %q", c)
			}
		}
		if s := lr.Stats(); s.Codes != uint64(len(codes)) {
			t.Fatalf("stats %+v for %d codes", s, len(codes))
		}
		one, _ := readAll(NewLineReader(iotest.OneByteReader(bytes.NewReader(data)), fr, slog.New(slog.DiscardHandler)))
		if !slices.Equal(one, codes) {
			t.Fatalf("byte by byte %q, at once %q", one, codes)
		}
	})
}
