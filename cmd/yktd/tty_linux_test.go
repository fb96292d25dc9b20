package main

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/openykt/yktd/internal/ptytest"
)

// The console keypad must not let the terminal echo PIN digits, and Ctrl-C
// must reach yktd as a key: rawKeys turns echo, line mode and signal keys
// off on a terminal and restores them after.
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
		return tio.Lflag & (unix.ECHO | unix.ICANON | unix.ISIG)
	}
	// ptytest leaves the line raw; give it a cooked terminal's flags first.
	tio, _ := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	tio.Lflag |= unix.ECHO | unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	restore, ok := rawKeys(f)
	if m := mode(); m != 0 || !ok {
		t.Fatalf("after rawKeys: lflag echo|icanon|isig = %#x (terminal %v), want 0", m, ok)
	}
	restore()
	if m := mode(); m != unix.ECHO|unix.ICANON|unix.ISIG {
		t.Fatalf("after restore: lflag echo|icanon|isig = %#x", m)
	}
	// Not a terminal: nothing happens, nothing fails.
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	restore, ok = rawKeys(r)
	restore()
	if ok {
		t.Error("rawKeys calls a pipe a terminal")
	}
}
