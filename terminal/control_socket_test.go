package terminal_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestControlUnixSocketMode: the socket is 0600 while the daemon runs, is
// served without a credential (the file's mode is the authority), leaves
// nothing else in its directory, and is removed at the stop.
func TestControlUnixSocketMode(t *testing.T) {
	r := startCtlRig(t, "unix:control.sock", nil)
	path := filepath.Join(r.dir, "control.sock")
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with 0600", fi.Mode())
	}
	if r.d.ControlAddr() != path {
		t.Errorf("ControlAddr %q, want %q", r.d.ControlAddr(), path)
	}
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); n != "control.sock" && n != "yktd.db" {
			t.Errorf("the control interface left %s in its directory", n)
		}
	}
	if st, body := r.call("POST", "/sim/readers/sim:pos/tap", nil, `{"card":"student"}`); st != http.StatusOK {
		t.Errorf("tap over the unix socket without a credential: %d %s", st, body)
	}
	r.shutdown()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket is still there after the stop: %v", err)
	}
}

// TestControlUnixSocketKeepsForeignFiles: what is at the socket's path and
// is not a stale socket of ours is never removed: the daemon refuses to
// start with a reason, and the file stays as it was.
func TestControlUnixSocketKeepsForeignFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, path string) func(t *testing.T) // returns the check that it is intact
		wants string
	}{
		{"regular file", func(t *testing.T, path string) func(*testing.T) {
			if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
					t.Errorf("the file at the socket path: %q, %v", b, err)
				}
			}
		}, "not a socket"},
		{"directory", func(t *testing.T, path string) func(*testing.T) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if fi, err := os.Lstat(path); err != nil || !fi.IsDir() {
					t.Errorf("the directory at the socket path: %v, %v", fi, err)
				}
			}
		}, "not a socket"},
		{"symlink", func(t *testing.T, path string) func(*testing.T) {
			target := filepath.Join(filepath.Dir(path), "target")
			if err := os.WriteFile(target, []byte("kept"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T) {
				if l, err := os.Readlink(path); err != nil || l != target {
					t.Errorf("the symlink at the socket path: %q, %v", l, err)
				}
			}
		}, "not a socket"},
		{"live socket", func(t *testing.T, path string) func(*testing.T) {
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, "live")
					c.Close()
				}
			}()
			return func(t *testing.T) {
				c, err := net.Dial("unix", path)
				if err != nil {
					t.Errorf("the live socket no longer answers: %v", err)
					return
				}
				defer c.Close()
				if b, _ := io.ReadAll(c); string(b) != "live" {
					t.Errorf("the socket at the path answers %q: not the one that was there", b)
				}
			}
		}, "answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "control.sock")
			intact := tc.make(t, path)
			r, err := newCtlRig(t, "unix:"+path, nil)
			if err == nil {
				r.stop = func() {}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = r.d.Run(ctx)
				t.Fatalf("NewDaemon with a %s at the socket path: started", tc.name)
			}
			if !strings.Contains(err.Error(), tc.wants) || !strings.Contains(err.Error(), path) {
				t.Errorf("NewDaemon with a %s at the socket path: %v, want it to say %q and name the path", tc.name, err, tc.wants)
			}
			intact(t)
		})
	}
}

// TestControlUnixSocketStale: a socket nobody answers on (a daemon killed
// with -9 left it) is replaced.
func TestControlUnixSocketStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	r, err := newCtlRig(t, "unix:"+path, nil)
	if err != nil {
		t.Fatalf("NewDaemon over a stale socket: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() { r.done <- r.d.Run(ctx) }()
	defer r.shutdown()
	if st, body := r.call("GET", "/v1/health", nil, ""); st != http.StatusOK {
		t.Errorf("health over the new socket: %d %s", st, body)
	}
}

// TestControlUnixSocketShutdownKeepsReplacement: at the stop the daemon
// removes its own socket only: a file someone put in its place stays.
func TestControlUnixSocketShutdownKeepsReplacement(t *testing.T) {
	r := startCtlRig(t, "unix:control.sock", nil)
	path := filepath.Join(r.dir, "control.sock")
	if st, _ := r.call("GET", "/v1/health", nil, ""); st != http.StatusOK {
		t.Fatal("the control socket does not answer")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.shutdown()
	if b, err := os.ReadFile(path); err != nil || string(b) != "someone else's" {
		t.Errorf("the file put in the socket's place after the stop: %q, %v", b, err)
	}
}
