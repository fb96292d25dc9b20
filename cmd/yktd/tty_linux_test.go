package main

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/openykt/yktd/internal/ptytest"
)

// The console keypad must not let the terminal echo PIN digits: rawKeys
// turns echo and line mode off on a terminal and restores them after.
func TestRawKeysTurnsEchoOff(t *testing.T) {
	_, slave := ptytest.Open(t)
	f, err := os.OpenFile(slave, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mode := func() uint32 {
		tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		return tio.Lflag & (unix.ECHO | unix.ICANON)
	}
	// ptytest leaves the line raw; give it a cooked terminal's flags first.
	tio, _ := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	tio.Lflag |= unix.ECHO | unix.ICANON
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	restore := rawKeys(f)
	if m := mode(); m != 0 {
		t.Fatalf("after rawKeys: lflag echo|icanon = %#x, want 0", m)
	}
	restore()
	if m := mode(); m != unix.ECHO|unix.ICANON {
		t.Fatalf("after restore: lflag echo|icanon = %#x", m)
	}
	// Not a terminal: nothing happens, nothing fails.
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	rawKeys(r)()
}
