package sdnotify_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/sdnotify"
)

// listen is a fake systemd: a unixgram socket at addr.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func recv(t *testing.T, ln *net.UnixConn) string {
	t.Helper()
	if err := ln.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := ln.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestNotifyDatagrams(t *testing.T) {
	for _, tc := range []struct{ name, addr string }{
		{"path", filepath.Join(t.TempDir(), "notify")},
		{"abstract", fmt.Sprintf("@yktd-sdnotify-test-%d", os.Getpid())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t, tc.addr)
			c, err := sdnotify.New(tc.addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			steps := []struct {
				send func() error
				want string
			}{
				{c.Ready, "READY=1"},
				{func() error { return c.Status("pos · no holds\nsecond") }, "STATUS=pos · no holds second"},
				{c.Watchdog, "WATCHDOG=1"},
				{c.Stopping, "STOPPING=1"},
			}
			for _, s := range steps {
				if err := s.send(); err != nil {
					t.Fatal(err)
				}
				if got := recv(t, ln); got != s.want {
					t.Errorf("datagram %q, want %q", got, s.want)
				}
			}
		})
	}
}

func TestNotifyNoListener(t *testing.T) {
	c, err := sdnotify.New(filepath.Join(t.TempDir(), "gone"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(); err == nil {
		t.Fatal("Ready to a socket nobody listens on: no error")
	}
}

func TestNotifyNew(t *testing.T) {
	if _, err := sdnotify.New("", 0); !errors.Is(err, sdnotify.ErrNoSocket) {
		t.Errorf("New(\"\"): %v, want ErrNoSocket", err)
	}
	if _, err := sdnotify.New("relative/sock", 0); err == nil {
		t.Error("a relative NOTIFY_SOCKET was taken")
	}
}

func TestNotifyFromEnv(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "notify")
	ln := listen(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	c, err := sdnotify.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.WatchdogInterval(); got != 15*time.Second {
		t.Errorf("interval %v, want half of 30s", got)
	}
	if err := c.Watchdog(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ln); got != "WATCHDOG=1" {
		t.Errorf("datagram %q", got)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if _, err := sdnotify.FromEnv(); !errors.Is(err, sdnotify.ErrNoSocket) {
		t.Errorf("FromEnv without NOTIFY_SOCKET: %v", err)
	}
}

func TestWatchdogParse(t *testing.T) {
	const self = 4242
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		bad       bool
	}{
		{"", "", 0, false},
		{"30000000", "", 30 * time.Second, false},
		{"30000000", "4242", 30 * time.Second, false},
		{"30000000", "1", 0, false}, // the parent's watchdog, not ours
		{"0", "", 0, true},
		{"-5", "", 0, true},
		{"30s", "", 0, true},
		{"99999999999999999999", "", 0, true},
		{"9223372036854775807", "", 0, true},
		{"30000000", "x", 0, true},
	} {
		got, err := sdnotify.ParseWatchdog(tc.usec, tc.pid, self)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseWatchdog(%q, %q) = %v, %v; want %v, error %v", tc.usec, tc.pid, got, err, tc.want, tc.bad)
		}
	}
}

// TestWatchdogDevice pets a fake watchdog device (a plain file: the kernel
// device takes any write the same way) and closes it with the magic 'V'.
func TestWatchdogDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := sdnotify.OpenDevice(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.WatchdogInterval() != sdnotify.DefaultDeviceInterval {
		t.Errorf("interval %v", d.WatchdogInterval())
	}
	if err := d.Ready(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := d.Watchdog(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Stopping(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "111V" {
		t.Errorf("device got %q, want three pets and the magic close", b)
	}
	if err := d.Watchdog(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("pet after the magic close: %v, want ErrClosed", err)
	}
}

// TestWatchdogDeviceCrashLeavesArmed: Close (what a crash amounts to)
// writes no magic character, so the watchdog stays armed.
func TestWatchdogDeviceCrashLeavesArmed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := sdnotify.OpenDevice(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Watchdog(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "1" {
		t.Errorf("device got %q, want one pet and no 'V'", b)
	}
	if _, err := sdnotify.OpenDevice(filepath.Join(t.TempDir(), "absent"), 0); err == nil {
		t.Error("a missing watchdog device opened")
	}
}
