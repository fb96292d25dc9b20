package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/openykt/yktd/internal/sdnotify"
	"github.com/openykt/yktd/terminal"
)

// watchdogEnv names the watchdog device yktd pets on a board without
// systemd (YKTD_WATCHDOG=/dev/watchdog in its init script): a property of
// how the process is supervised, like NOTIFY_SOCKET, not of the device's
// configuration.
const watchdogEnv = "YKTD_WATCHDOG"

// supervisorOf returns the supervisor the environment names: systemd's
// $NOTIFY_SOCKET (with $WATCHDOG_USEC), else the watchdog device in
// $YKTD_WATCHDOG (opening it arms it), else none (nil). release ends it
// without the clean-stop notification (the daemon sends that itself).
func supervisorOf(log *slog.Logger) (n terminal.Notifier, release func(), err error) {
	if os.Getenv("NOTIFY_SOCKET") != "" {
		c, err := sdnotify.FromEnv()
		if err != nil {
			return nil, nil, fmt.Errorf("systemd notification: %w", err)
		}
		log.Info("yktd: notifying systemd", "watchdog", c.WatchdogInterval().String())
		return c, func() { _ = c.Close() }, nil
	}
	if path := os.Getenv(watchdogEnv); path != "" {
		d, err := sdnotify.OpenDevice(path, 0)
		if err != nil {
			return nil, nil, err
		}
		log.Info("yktd: petting the watchdog device while healthy", "device", path, "every", d.WatchdogInterval().String())
		return d, func() { _ = d.Close() }, nil
	}
	return nil, func() {}, nil
}

// journald reports whether w is the journal's stream (systemd sets
// $JOURNAL_STREAM to the device and inode of the stdout/stderr it
// connected to the journal): the journal stamps each line itself.
func journald(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isJournalStream(f, os.Getenv("JOURNAL_STREAM"))
}

// dropTime is a slog ReplaceAttr that leaves out the record's time.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
