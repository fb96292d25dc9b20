package qrscan

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// BenchmarkLineReader splits a burst of 100 campus-QR-sized codes (300
// bytes each, CR-terminated) read 512 bytes at a time.
func BenchmarkLineReader(b *testing.B) {
	code := strings.Repeat("HC1:6BFOXN*TS0BI$ZD4N9", 14)[:300]
	burst := []byte(strings.Repeat(code+"\r", 100))
	b.SetBytes(int64(len(burst)))
	b.ReportAllocs()
	for b.Loop() {
		lr := NewLineReader(bytes.NewReader(burst), Framing{}, slog.New(slog.DiscardHandler))
		n := 0
		for {
			if _, err := lr.Next(); err == io.EOF {
				break
			}
			n++
		}
		if n != 100 {
			b.Fatalf("%d codes", n)
		}
	}
}
