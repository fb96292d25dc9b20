package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openykt/yktd/internal/ptytest"
)

// cookedTerminal gives the pseudo-terminal the line discipline of a
// terminal window: Ctrl-C raises SIGINT, lines are edited and echoed.
func cookedTerminal(t *testing.T, f *os.File) {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag |= unix.ISIG | unix.ICANON | unix.ECHO | unix.IEXTEN
	tio.Iflag |= unix.ICRNL
	tio.Oflag |= unix.OPOST | unix.ONLCR
	tio.Cc[unix.VINTR] = 0x03
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
}

// TestMakeSimCtrlC runs `make sim` on a terminal as a person does and
// stops it with Ctrl-C: the simulator reads Ctrl-C as a key (the terminal
// sends no SIGINT to make), stops cleanly, and make exits 0 instead of
// reporting "Interrupt". The terminal is given back as it was. $(GO) is a
// script that runs this test binary as yktd, in place of `go run
// ./cmd/yktd` (which would compile it again).
func TestMakeSimCtrlC(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("make is not installed")
		}
		t.Skip("make is not installed")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goScript := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\n# make sim runs: $(GO) run ./cmd/yktd run --sim ...\nshift 2\n" +
		"YKTD_TEST_AS_YKTD=1 exec \"$YKTD_TEST_BINARY\" \"$@\"\n"
	if err := os.WriteFile(goScript, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	pty, err := ptytest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	tty, err := os.OpenFile(pty.SlavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	cookedTerminal(t, tty)

	dir := t.TempDir()
	cmd := exec.Command(makeBin, "--no-print-directory", "-C", root, "sim", "GO="+goScript,
		"SIM_ARGS=--no-ledger --auto 0 --dir "+dir)
	cmd.Env = append(os.Environ(), "YKTD_TEST_BINARY="+os.Args[0])
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	screen := &lockedBuffer{}
	go func() { _, _ = io.Copy(screen, pty.Master) }()

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(screen.String(), "Ctrl-C stops") {
		select {
		case err := <-done:
			t.Fatalf("make sim ended before the simulator was up: %v\n%s", err, screen)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the simulator did not come up within 60s:\n%s", screen)
		}
	}
	if _, err := pty.Master.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("make sim did not stop after Ctrl-C:\n%s", screen)
	}
	if err != nil || strings.Contains(screen.String(), "Interrupt") {
		t.Fatalf("make sim after Ctrl-C: %v\n%s", err, screen)
	}
	if !strings.Contains(screen.String(), `msg="yktd: stopped"`) {
		t.Errorf("the daemon did not stop cleanly:\n%s", screen)
	}
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint32(unix.ISIG | unix.ICANON | unix.ECHO); tio.Lflag&want != want {
		t.Errorf("terminal not given back: lflag %#x", tio.Lflag)
	}
}
