package terminal

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrControlInUse: another process answers on the control socket's path
// (a second yktd on the same configuration, or something else entirely).
var ErrControlInUse = errors.New("another process answers on it")

// ErrNotSocket: something that is not a socket is at the control socket's
// path; the daemon never removes it.
var ErrNotSocket = errors.New("not a socket")

// listenControlAddr opens the control interface's listener: a unix socket
// ("unix:/path") or loopback TCP only (terminal/config refuses other
// addresses and so does this, in case a caller bypassed the config).
func listenControlAddr(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return listenUnix(path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("terminal: control interface %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("terminal: control interface %q: loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("terminal: control interface: %w", err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("terminal: control interface %q: listens on %v, not loopback", addr, ln.Addr())
	}
	return ln, nil
}

// listenUnix opens the control socket at path, mode 0600 from the moment
// it appears there: it is made and chmod'ed inside a private directory
// (0700, beside path, so nobody else can reach it meanwhile) and then
// hard-linked into place. link(2) never replaces what is at path, so a
// file that appeared since the check below is not lost either.
//
// What is at path already is removed only when it is a socket nobody
// answers on (a daemon killed with -9 left it); a live socket, a regular
// file, a directory or a symlink is refused with ErrControlInUse or
// ErrNotSocket and left as it is.
func listenUnix(path string) (net.Listener, error) {
	if path == "" || !filepath.IsAbs(path) {
		return nil, fmt.Errorf("terminal: control socket %q: want an absolute path", path)
	}
	if err := clearStaleSocket(path); err != nil {
		return nil, fmt.Errorf("terminal: control socket %s: %w", path, err)
	}
	priv, err := os.MkdirTemp(filepath.Dir(path), ".ctl")
	if err != nil {
		return nil, fmt.Errorf("terminal: control socket: %w", err)
	}
	defer os.RemoveAll(priv)
	if err := os.Chmod(priv, 0o700); err != nil {
		return nil, fmt.Errorf("terminal: control socket: %w", err)
	}
	tmp := filepath.Join(priv, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("terminal: control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Close removes path, and only while it is this socket
	fail := func(err error) (net.Listener, error) {
		_ = ln.Close()
		return nil, fmt.Errorf("terminal: control socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fail(fmt.Errorf("something appeared at the path meanwhile: %w", err))
		}
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		return fail(fmt.Errorf("made with mode %v, want a socket with 0600", fi.Mode()))
	}
	return &unixSocket{UnixListener: ln, path: path, made: fi}, nil
}

// clearStaleSocket removes path when it is a socket nobody answers on, and
// refuses anything else that is there.
func clearStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w (%s): not removed; move it away or choose another control.listen", ErrNotSocket, fileKind(fi.Mode()))
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%w (is a yktd already running?)", ErrControlInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether it is stale: %w", err)
	}
	again, err := os.Lstat(path)
	if err != nil || !os.SameFile(fi, again) {
		return errors.New("it changed while it was checked; try again")
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "a " + m.Type().String() + " file"
}

// unixSocket is the control socket: its address is the path it was linked
// to, and Close removes that path only while it is still this socket (the
// same inode), never a file someone put in its place.
type unixSocket struct {
	*net.UnixListener
	path string
	made fs.FileInfo

	once sync.Once
	err  error
}

// Addr returns the socket's path.
func (s *unixSocket) Addr() net.Addr { return &net.UnixAddr{Name: s.path, Net: "unix"} }

// Close stops listening and removes the socket's path if it is still ours.
func (s *unixSocket) Close() error {
	s.once.Do(func() {
		// Compared while the listener still pins the inode, so that its
		// number cannot have been given to a file made in its place.
		if fi, err := os.Lstat(s.path); err == nil && os.SameFile(fi, s.made) {
			if err := os.Remove(s.path); err != nil {
				s.err = fmt.Errorf("terminal: remove control socket: %w", err)
			}
		}
		s.err = errors.Join(s.err, s.UnixListener.Close())
	})
	return s.err
}
