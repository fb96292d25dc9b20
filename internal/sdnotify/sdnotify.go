// Package sdnotify tells the process's supervisor how the daemon is: the
// systemd notification protocol (sd_notify(3): datagrams on the unix
// socket $NOTIFY_SOCKET, abstract sockets included) and, on boards without
// systemd, the kernel's watchdog device (/dev/watchdog: any write pets it,
// the magic character 'V' before close disarms it). Both sit behind
// Supervisor, which terminal.DaemonDeps.Notifier takes.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Supervisor is what the daemon tells whoever restarts it.
type Supervisor interface {
	// Ready says the daemon serves (the store is open, the readers run).
	Ready() error
	// Status is a one-line state for the technician (systemctl status).
	Status(line string) error
	// Watchdog pets the watchdog; the caller does it only while healthy.
	Watchdog() error
	// Stopping says a clean stop began.
	Stopping() error
	// WatchdogInterval is how often Watchdog must be called (0: no
	// watchdog; then only Ready, Status and Stopping matter).
	WatchdogInterval() time.Duration
}

// Errors of the environment.
var (
	// ErrNoSocket: $NOTIFY_SOCKET is unset (not started by systemd with
	// Type=notify).
	ErrNoSocket = errors.New("sdnotify: NOTIFY_SOCKET is not set")
	// ErrBadWatchdog: $WATCHDOG_USEC is not a positive number of
	// microseconds.
	ErrBadWatchdog = errors.New("sdnotify: bad WATCHDOG_USEC")
)

// Conn sends sd_notify datagrams to one socket.
type Conn struct {
	addr     *net.UnixAddr
	interval time.Duration

	mu   sync.Mutex
	conn *net.UnixConn
}

// New returns a Conn that notifies the socket at path ("@name" is an
// abstract socket, as systemd writes it) and asks for a watchdog pet every
// interval (0: none).
func New(path string, interval time.Duration) (*Conn, error) {
	if path == "" {
		return nil, ErrNoSocket
	}
	if path[0] != '/' && path[0] != '@' {
		return nil, fmt.Errorf("sdnotify: NOTIFY_SOCKET %q: neither a path nor an abstract name", path)
	}
	return &Conn{addr: &net.UnixAddr{Name: path, Net: "unixgram"}, interval: interval}, nil
}

// FromEnv returns the Conn systemd asks for through the environment
// ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID), or ErrNoSocket. The
// watchdog is pet at half its timeout, as sd_watchdog_enabled(3) advises.
func FromEnv() (*Conn, error) {
	wd, err := ParseWatchdog(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	if err != nil {
		return nil, err
	}
	return New(os.Getenv("NOTIFY_SOCKET"), wd/2)
}

// ParseWatchdog reads the watchdog timeout systemd set: usec is
// $WATCHDOG_USEC, pid $WATCHDOG_PID and self this process's id. It returns
// 0 when no watchdog is asked for this process (usec empty, or pid names
// another process).
func ParseWatchdog(usec, pid string, self int) (time.Duration, error) {
	if usec == "" {
		return 0, nil
	}
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("sdnotify: bad WATCHDOG_PID %q", pid)
		}
		if p != self {
			return 0, nil // meant for another process (our parent's)
		}
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: %q", ErrBadWatchdog, usec)
	}
	if n > uint64(1<<63-1)/uint64(time.Microsecond) {
		return 0, fmt.Errorf("%w: %q is too large", ErrBadWatchdog, usec)
	}
	return time.Duration(n) * time.Microsecond, nil
}

// Send sends one notification: newline-separated VAR=value assignments.
func (c *Conn) Send(state string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := net.DialUnix("unixgram", nil, c.addr)
		if err != nil {
			return fmt.Errorf("sdnotify: dial %s: %w", c.addr.Name, err)
		}
		c.conn = conn
	}
	if _, err := c.conn.Write([]byte(state)); err != nil {
		c.conn.Close()
		c.conn = nil // systemd may have been re-executed: dial again next time
		return fmt.Errorf("sdnotify: send: %w", err)
	}
	return nil
}

// Ready sends READY=1.
func (c *Conn) Ready() error { return c.Send("READY=1") }

// Status sends STATUS=line (newlines become spaces: one line).
func (c *Conn) Status(line string) error {
	return c.Send("STATUS=" + strings.ReplaceAll(line, "\n", " "))
}

// Watchdog sends WATCHDOG=1.
func (c *Conn) Watchdog() error { return c.Send("WATCHDOG=1") }

// Stopping sends STOPPING=1.
func (c *Conn) Stopping() error { return c.Send("STOPPING=1") }

// WatchdogInterval is the pet interval New was given.
func (c *Conn) WatchdogInterval() time.Duration { return c.interval }

// Close closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}
