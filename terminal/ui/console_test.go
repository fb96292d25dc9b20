package ui_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/terminal/ui"
)

func TestConsoleShow(t *testing.T) {
	var out bytes.Buffer
	c := ui.NewConsole(strings.NewReader(""), &out)
	if err := c.Show(context.Background(), ui.Approved(1250, 8750)); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "== approved ==\n交易成功 消费 12.50元 余额 87.50元\nApproved: paid 12.50, balance 87.50\n" +
		"金额 Amount 12.50  余额 Balance 87.50\n== (clear) ==\n"
	if out.String() != want {
		t.Errorf("output\n%q\nwant\n%q", out.String(), want)
	}
}

func TestConsoleEntries(t *testing.T) {
	var out bytes.Buffer
	c := ui.NewConsole(strings.NewReader("12.5\r\n4321\nc"), &out)
	ctx := context.Background()
	fen, err := c.ReadAmount(ctx)
	if err != nil || fen != 1250 {
		t.Fatalf("ReadAmount = %d, %v", fen, err)
	}
	pin, err := c.ReadPIN(ctx, 6) // the LF after CR is an empty Enter: ignored
	if err != nil || pin.Reveal() != "4321" {
		t.Fatalf("ReadPIN = %q, %v", pin.Reveal(), err)
	}
	if _, err := c.ReadAmount(ctx); !errors.Is(err, ui.ErrCancelled) {
		t.Fatalf("'c' = %v, want ErrCancelled", err)
	}
	if _, err := c.ReadAmount(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("at EOF = %v, want io.EOF", err)
	}
	s := out.String()
	if strings.Contains(s, "4321") {
		t.Fatalf("console printed the PIN: %q", s)
	}
	if !strings.Contains(s, "密码 PIN: ****") || !strings.Contains(s, "金额 Amount: 12.5") {
		t.Fatalf("echo missing: %q", s)
	}
}

func TestConsoleReadHonoursContext(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	c := ui.NewConsole(r, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	// Nothing is ever typed: the deadline must end the entry.
	if _, err := c.ReadPIN(ctx, 6); !errors.Is(err, ui.ErrTimeout) {
		t.Fatalf("ReadPIN = %v, want ErrTimeout", err)
	}
	// A key typed later is read by the next entry.
	go func() { _, _ = w.Write([]byte("7\n")) }()
	fen, err := c.ReadAmount(context.Background())
	if err != nil || fen != 700 {
		t.Fatalf("ReadAmount after a timeout = %d, %v", fen, err)
	}
}

// FuzzConsoleKeys types arbitrary bytes on the console: entry never panics,
// an amount is within 1..MaxAmount, a PIN is 1..maxLen digits, and the PIN's
// digits never reach the output.
func FuzzConsoleKeys(f *testing.F) {
	f.Add([]byte("12.50\n123456\n"))
	f.Add([]byte("\x1b[A99999999.999\n\b\b\x7f12\r"))
	f.Fuzz(func(t *testing.T, keys []byte) {
		var out bytes.Buffer
		c := ui.NewConsole(bytes.NewReader(keys), &out)
		fen, err := c.ReadAmount(context.Background())
		if err == nil && (fen < 1 || fen > ui.MaxAmount) {
			t.Fatalf("amount %d out of range", fen)
		}
		if err != nil {
			return
		}
		before := out.Len()
		pin, err := c.ReadPIN(context.Background(), 6)
		if err != nil {
			return
		}
		d := pin.Reveal()
		if len(d) < 1 || len(d) > 6 || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("PIN %q", d)
		}
		if echo := out.String()[before:]; strings.ContainsAny(echo, "0123456789") {
			t.Fatalf("PIN entry echoed a digit: %q", echo)
		}
	})
}
