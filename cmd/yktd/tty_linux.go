package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// rawKeys puts the terminal on f (when it is one) in key-at-a-time mode
// without echo: the console keypad echoes a PIN as '*' itself, and the
// terminal's own echo would show its digits. It returns the function that
// restores the terminal; on anything but a terminal it does nothing.
func rawKeys(f *os.File) (restore func()) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	t := *old
	t.Lflag &^= unix.ECHO | unix.ICANON
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return func() {}
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }
}
