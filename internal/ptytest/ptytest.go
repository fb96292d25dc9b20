//go:build linux

// Package ptytest opens Linux pseudo-terminal pairs so that serial-port
// drivers (PN532 NFC module, QR scanner) can be tested through their real
// serial library on a real tty: the driver opens the slave path as if it
// were /dev/ttyUSB0, and a simulated device speaks on the master side.
//
// Link and Repoint make a symlink to the slave, standing in for a
// /dev/serial/by-id/... name; re-pointing it to another pair simulates a
// USB adapter that disappears and re-enumerates under a new tty.
package ptytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// PTY is one pseudo-terminal pair.
//
// Master is the device side: what a simulated device reads and writes. It is
// registered with the Go runtime poller, so SetReadDeadline works and Close
// interrupts a pending Read. The line discipline is in raw mode (no echo, no
// CR/LF translation), for bytes written from either side.
//
// The pair holds one descriptor of the slave itself, so that reading the
// master blocks (instead of failing with EIO) while the driver under test
// has closed the slave and not yet reopened it.
type PTY struct {
	Master    *os.File
	SlavePath string

	hold   *os.File
	closed atomic.Bool
}

// New opens a pseudo-terminal pair: /dev/ptmx with O_RDWR|O_NOCTTY, unlocked
// with TIOCSPTLCK and named from TIOCGPTN. The caller closes it.
func New() (*PTY, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("ptytest: open /dev/ptmx: %w", err)
	}
	var n uint32
	var ioErr error
	ctlErr := rawControl(master, func(fd int) {
		if ioErr = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); ioErr != nil {
			ioErr = fmt.Errorf("unlock (TIOCSPTLCK): %w", ioErr)
			return
		}
		if n, ioErr = unix.IoctlGetUint32(fd, unix.TIOCGPTN); ioErr != nil {
			ioErr = fmt.Errorf("name (TIOCGPTN): %w", ioErr)
			return
		}
		ioErr = makeRaw(fd)
	})
	if err := errors.Join(ctlErr, ioErr); err != nil {
		master.Close()
		return nil, fmt.Errorf("ptytest: %w", err)
	}
	p := &PTY{Master: master, SlavePath: "/dev/pts/" + strconv.FormatUint(uint64(n), 10)}
	hold, err := os.OpenFile(p.SlavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("ptytest: open %s: %w", p.SlavePath, err)
	}
	p.hold = hold
	return p, nil
}

// Close closes the master and the pair's own slave descriptor: a reader of
// the slave then sees the device gone (end of file, which go.bug.st/serial
// reports as PortClosed). It is safe to call twice.
func (p *PTY) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	return errors.Join(p.Master.Close(), p.hold.Close())
}

// Open opens a pair for the test and closes it when the test ends. It
// returns the master (device side) and the slave path (what the driver under
// test opens). Closing master early simulates a device unplugged.
func Open(t testing.TB) (master *os.File, slavePath string) {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.Master, p.SlavePath
}

// Link makes a symlink to target in a fresh t.TempDir() and returns its
// path: a stand-in for /dev/serial/by-id/usb-...-if00-port0.
func Link(t testing.TB, target string) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "by-id-port0")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(fmt.Errorf("ptytest: link: %w", err))
	}
	return link
}

// Repoint atomically replaces link so that it points to target (a new
// symlink renamed over the old one). An empty target removes the link, as
// udev does while the adapter is unplugged.
func Repoint(t testing.TB, link, target string) {
	t.Helper()
	if target == "" {
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(fmt.Errorf("ptytest: remove link: %w", err))
		}
		return
	}
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(fmt.Errorf("ptytest: repoint: %w", err))
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(fmt.Errorf("ptytest: repoint: %w", err))
	}
}

// rawControl runs f on the file's descriptor without taking it out of the
// runtime poller (File.Fd would switch it to blocking mode).
func rawControl(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// makeRaw puts the pair's line discipline in raw mode, like cfmakeraw(3).
func makeRaw(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("get termios: %w", err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return fmt.Errorf("set termios: %w", err)
	}
	return nil
}
