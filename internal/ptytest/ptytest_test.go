//go:build linux

package ptytest_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/openykt/yktd/internal/ptytest"
)

// TestRoundTrip sends bytes both ways between go-serial on the slave and the
// master, with bytes that a cooked tty would translate or echo.
func TestRoundTrip(t *testing.T) {
	master, slave := ptytest.Open(t)
	port, err := serial.Open(slave, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("serial.Open(%s): %v", slave, err)
	}
	defer port.Close()

	out := []byte{0x00, 0x0d, 0x0a, 0x03, 0x04, 0x11, 0x13, 0x7f, 0xff}
	if _, err := port.Write(out); err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(out))
	if _, err := io.ReadFull(master, got); err != nil {
		t.Fatalf("read master: %v", err)
	}
	if !bytes.Equal(got, out) {
		t.Fatalf("master read %x, want %x", got, out)
	}

	if _, err := master.Write(out); err != nil {
		t.Fatal(err)
	}
	port.SetReadTimeout(5 * time.Second)
	got = got[:0]
	buf := make([]byte, 16)
	for len(got) < len(out) {
		n, err := port.Read(buf)
		if err != nil || n == 0 {
			t.Fatalf("read slave: n=%d err=%v after %x", n, err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, out) {
		t.Fatalf("slave read %x, want %x", got, out)
	}
}

// TestMasterReadBlocksWhileSlaveClosed checks that the held slave keeps the
// master from failing with EIO between a driver's close and reopen.
func TestMasterReadBlocksWhileSlaveClosed(t *testing.T) {
	master, slave := ptytest.Open(t)
	port, err := serial.Open(slave, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	port.Close()
	master.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = master.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("master read with the slave closed: %v, want a deadline error", err)
	}
}

// TestUnplug checks that closing the master makes the driver's read fail.
func TestUnplug(t *testing.T) {
	p, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	port, err := serial.Open(p.SlavePath, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	port.SetReadTimeout(5 * time.Second)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := port.Read(make([]byte, 8))
	if err == nil {
		t.Fatalf("read after unplug: n=%d, nil error", n)
	}
}

func TestLinkRepoint(t *testing.T) {
	_, a := ptytest.Open(t)
	_, b := ptytest.Open(t)
	link := ptytest.Link(t, a)
	if got, _ := os.Readlink(link); got != a {
		t.Fatalf("link -> %q, want %q", got, a)
	}
	ptytest.Repoint(t, link, "")
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after removal: %v", err)
	}
	ptytest.Repoint(t, link, b)
	if got, _ := os.Readlink(link); got != b {
		t.Fatalf("link -> %q, want %q", got, b)
	}
}
