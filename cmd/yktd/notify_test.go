package main

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/terminal/config"
)

// streamID is what systemd puts in $JOURNAL_STREAM for f.
func streamID(t *testing.T, f *os.File) string {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// TestNotifyJournaldLogsWithoutTime: on the journal's stream the log lines
// carry no time of their own (the journal stamps them); on any other
// stream, even with $JOURNAL_STREAM set for another one, they do.
func TestNotifyJournaldLogsWithoutTime(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, tc := range []struct {
			env      string
			wantTime bool
		}{{streamID(t, f), false}, {"1:2", true}, {"", true}} {
			t.Setenv("JOURNAL_STREAM", tc.env)
			if err := f.Truncate(0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(0, 0); err != nil {
				t.Fatal(err)
			}
			newLogger(config.Device{LogFormat: format, LogLevel: "info"}, f).Info("hello", "k", 1)
			b, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			line := string(b)
			hasTime := strings.Contains(line, "time=") || strings.Contains(line, `"time":`)
			if hasTime != tc.wantTime || !strings.Contains(line, "hello") {
				t.Errorf("%s, JOURNAL_STREAM %q: %q (time wanted: %v)", format, tc.env, line, tc.wantTime)
			}
		}
	}
}

// TestNotifyRealYktd runs `yktd run --config` as systemd would with
// Type=notify and WatchdogSec=: its stderr is the journal's stream and
// $NOTIFY_SOCKET a unixgram socket the test reads. READY=1 comes after the
// daemon opened its store and runs (it logged so), then it is pet and
// tells its state; SIGTERM makes it say STOPPING=1 and exit 0; the log
// lines carry no time of their own.
func TestNotifyRealYktd(t *testing.T) {
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner("ledger", protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	// Not enrolled (no token): the POS runs offline and contacts nobody.
	d := newDevice(t, &ledgerd{url: "http://127.0.0.1:9/", fingerprint: protocol.Fingerprint(signer.PublicKey().Key)}, "1h")
	sock := filepath.Join(d.dir, "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	logf, err := os.Create(filepath.Join(d.dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "run", "--config", d.config)
	cmd.Env = append(os.Environ(), asYktdEnv+"=1", "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000",
		"JOURNAL_STREAM="+streamID(t, logf))
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("yktd stderr:\n%s", b)
		}
	}()
	next := func() string {
		t.Helper()
		if err := ln.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		n, err := ln.Read(b)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(b[:n])
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	if b, _ := os.ReadFile(logf.Name()); !strings.Contains(string(b), `msg="yktd: running"`) {
		t.Errorf("READY=1 before the daemon ran on its open store; log:\n%s", b)
	}
	var pets int
	var status string
	for range 200 {
		switch m := next(); {
		case m == "WATCHDOG=1":
			pets++
		case strings.HasPrefix(m, "STATUS="):
			status = m
		}
		if pets >= 2 && status != "" {
			break
		}
	}
	if pets < 2 || !strings.HasPrefix(status, "STATUS=pos POS-RIG-01: healthy; holds: ") {
		t.Fatalf("%d pets, status %q", pets, status)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for m := next(); m != "STOPPING=1"; m = next() {
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("yktd after SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("yktd did not stop")
	}
	f, err := os.Open(logf.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines int
	for sc.Scan() {
		lines++
		if strings.Contains(sc.Text(), "time=") {
			t.Errorf("a log line on the journal's stream has its own time: %q", sc.Text())
		}
	}
	if lines == 0 {
		t.Error("yktd logged nothing")
	}
}

// TestNotifyNoReadyWhenRefused: a device whose store is missing beside its
// identity does not start (exit 4): systemd is told nothing, so the unit
// never becomes active, and RestartPreventExitStatus keeps it from looping.
func TestNotifyNoReadyWhenRefused(t *testing.T) {
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner("ledger", protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, &ledgerd{url: "http://127.0.0.1:9/", fingerprint: protocol.Fingerprint(signer.PublicKey().Key)}, "1h")
	key, err := protocol.EncodePrivateKeyPEM(protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, deviceKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(d.dir, "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], "run", "--config", d.config)
	cmd.Env = append(os.Environ(), asYktdEnv+"=1", "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 4 {
		t.Fatalf("exit %d (%v), want 4:\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "--new-store") {
		t.Errorf("the refusal does not say what to do:\n%s", out)
	}
	if !strings.Contains(string(unitFile(t)), "RestartPreventExitStatus=2 4") {
		t.Error("the unit restarts a device that exits 4")
	}
	// The process has exited: whatever it sent is queued; nothing is.
	if err := ln.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 256)
	if n, err := ln.Read(b); err == nil {
		t.Errorf("a refused start notified systemd: %q", b[:n])
	}
}

func unitFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "yktd.service"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
