//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/openykt/yktd/internal/ptytest"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/terminal/readers"
)

// Usage mistakes of reader and rig exit with 2 without touching pcscd or
// vpcd (the pcscd-backed behaviour is tested in reader/pcsc).
func TestReaderAndRigUsage(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"reader"}, 2, "missing subcommand"},
		{[]string{"reader", "frob"}, 2, "unknown subcommand"},
		{[]string{"reader", "list", "--backend", "nope"}, 2, "unknown backend"},
		{[]string{"reader", "list", "extra"}, 2, "unexpected arguments"},
		{[]string{"reader", "watch", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"reader", "list", "-h"}, 0, "usage: yktd reader list"},
		{[]string{"reader", "list", "--config", "x.toml", "--backend", "pure"}, 2, "--backend: not with --config"},
		{[]string{"reader", "watch", "--config", "x.toml", "--reader", "ACS"}, 2, "--reader: not with --config"},
		{[]string{"reader", "list", "--config", "/nonexistent/yktd.toml"}, 1, "no such file"},
		{[]string{"reader", "watch", "--config", "/nonexistent/yktd.toml"}, 1, "no such file"},
		{[]string{"rig"}, 2, "missing subcommand"},
		{[]string{"rig", "vcard"}, 2, "give --state FILE"},
		{[]string{"rig", "vcard", "--psam", "--demo", "student"}, 2, "--psam excludes"},
		{[]string{"rig", "vcard", "--demo", "nosuchcard"}, 2, "nosuchcard"},
		{[]string{"rig", "vcard", "--psam", "--port", "70000"}, 2, "out of range"},
		{[]string{"rig", "help"}, 0, "demo cards:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q, want %q", errb.String(), tt.wantErr)
			}
		})
	}
}

// writeReaderConfig writes a kiosk configuration with the given [[reader]]
// tables and returns its path.
func writeReaderConfig(t *testing.T, readerTables string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "yktd.toml")
	text := "[device]\nid = \"POS-T1\"\nkind = \"pos\"\ndata_dir = \"/var/lib/yktd\"\n\n[board]\nbackend = \"fake\"\n\n[pos]\nmode = \"keyed\"\n\n" + readerTables
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readyPort tells the test when the scanner's port is open and flushed.
type readyPort struct {
	serial.Port
	ready chan<- struct{}
}

func (p readyPort) ResetInputBuffer() error {
	err := p.Port.ResetInputBuffer()
	p.ready <- struct{}{}
	return err
}

// hookReaders sets the watch context and the serial hook for one test.
func hookReaders(t *testing.T) (ready <-chan struct{}, cancel context.CancelFunc) {
	t.Helper()
	ch := make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(context.Background())
	oldCtx, oldOpts := watchContext, readerOptions
	watchContext = func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }
	readerOptions = readers.Options{SerialOpen: func(dev string, mode *serial.Mode) (serial.Port, error) {
		p, err := serial.Open(dev, mode)
		if err != nil {
			return nil, err
		}
		return readyPort{Port: p, ready: ch}, nil
	}}
	t.Cleanup(func() {
		cancel()
		watchContext, readerOptions = oldCtx, oldOpts
	})
	return ch, cancel
}

func TestReaderWatchConfigQRScan(t *testing.T) {
	master, slave := ptytest.Open(t)
	path := writeReaderConfig(t, "[[reader]]\nname = \"gate-qr\"\ndriver = \"qrscan\"\ndevice = \""+slave+"\"\nbaud = 115200\n")
	ready, cancel := hookReaders(t)
	out, errb := &testbuf.Buffer{}, &testbuf.Buffer{}
	code := make(chan int, 1)
	go func() { code <- run([]string{"reader", "watch", "--config", path}, out, errb) }()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("scanner port not opened; stderr %q", errb.String())
	}
	if _, err := master.Write([]byte("HC1:SECRET-TOKEN\r")); err != nil {
		t.Fatal(err)
	}
	out.WaitFor(t, "gate-qr text tech=qr len=16", 10*time.Second)
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d, stderr %q", c, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop")
	}
	if strings.Contains(out.String(), "SECRET") {
		t.Errorf("watch printed the code: %q", out.String())
	}
	if !strings.Contains(errb.String(), "watching gate-qr") {
		t.Errorf("stderr %q", errb.String())
	}
}

func TestReaderConfigMissingDevice(t *testing.T) {
	_, slave := ptytest.Open(t)
	path := writeReaderConfig(t, "[[reader]]\nname = \"qr-ok\"\ndriver = \"qrscan\"\ndevice = \""+slave+"\"\n\n"+
		"[[reader]]\nname = \"qr-gone\"\ndriver = \"qrscan\"\ndevice = \"/dev/serial/by-id/usb-no-such-scanner\"\n\n"+
		"[[reader]]\nname = \"rig\"\ndriver = \"sim\"\n")
	hookReaders(t)

	var out, errb bytes.Buffer
	if c := run([]string{"reader", "list", "--config", path}, &out, &errb); c != 1 {
		t.Errorf("list: exit %d, want 1", c)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("list printed %q", out.String())
	}
	for i, want := range []string{
		"qr-ok        qrscan   device=" + slave + " baud=9600",
		"qr-gone      qrscan   device=/dev/serial/by-id/usb-no-such-scanner baud=9600",
		"rig          sim      virtual",
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want)
		}
	}
	if !strings.HasSuffix(lines[0], " opens") || !strings.HasSuffix(lines[2], " opens") {
		t.Errorf("working readers not shown as opening: %q", out.String())
	}
	if !strings.Contains(lines[1], "does not open: qrscan: open /dev/serial/by-id/usb-no-such-scanner") || !strings.Contains(lines[1], "no such file or directory") {
		t.Errorf("missing device line %q", lines[1])
	}
	if !strings.Contains(errb.String(), "1 of 3 readers do not open") {
		t.Errorf("stderr %q", errb.String())
	}

	out.Reset()
	errb.Reset()
	if c := run([]string{"reader", "watch", "--config", path}, &out, &errb); c != 1 {
		t.Errorf("watch: exit %d, want 1", c)
	}
	if want := `reader "qr-gone" does not open: qrscan: open /dev/serial/by-id/usb-no-such-scanner`; !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "no such file or directory") {
		t.Errorf("watch stderr %q, want %q", errb.String(), want)
	}
}

func TestReaderListConfigEmpty(t *testing.T) {
	path := writeReaderConfig(t, "")
	var out, errb bytes.Buffer
	if c := run([]string{"reader", "list", "--config", path}, &out, &errb); c != 0 {
		t.Errorf("exit %d, stderr %q", c, errb.String())
	}
	if !strings.Contains(out.String(), "no readers in") {
		t.Errorf("stdout %q", out.String())
	}
	if c := run([]string{"reader", "watch", "--config", path}, &out, &errb); c != 1 || !strings.Contains(errb.String(), "no readers in") {
		t.Errorf("watch without readers: exit %d, stderr %q", c, errb.String())
	}
}
