package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// noEcho turns the echo of the terminal on f off (line editing stays on)
// and returns the function that restores it; tty is false, and nothing
// changes, when f is not a terminal.
func noEcho(f *os.File) (restore func(), tty bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}, false
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return func() {}, false
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, true
}
