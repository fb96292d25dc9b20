package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// rawKeys puts the terminal on f (when it is one) in key-at-a-time mode
// without echo and without signal keys: the console keypad echoes a PIN as
// '*' itself, and the terminal's own echo would show its digits; Ctrl-C
// arrives as a byte (consoleInput stops the daemon on it), so the terminal
// sends no SIGINT to the processes around yktd (make sim exits 0). It
// returns the function that restores the terminal and whether f is one; on
// anything but a terminal it does nothing.
func rawKeys(f *os.File) (restore func(), terminal bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}, false
	}
	t := *old
	t.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return func() {}, false
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, true
}
