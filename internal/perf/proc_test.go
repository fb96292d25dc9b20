package perf

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A real child process: its lines arrive stamped in order, Wait finds
// them from a mark, the log file gets everything, and the end is seen.
func TestProcLines(t *testing.T) {
	logs := t.TempDir()
	p, err := Start("sh", logs, "/bin/sh", "-c", `echo one; echo two; echo oops >&2; read x; echo "got $x"`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	two, i, err := p.Out.Wait(ctx, 0, func(s string) bool { return s == "two" })
	if err != nil || i != 1 {
		t.Fatalf("Wait two: %d %v", i, err)
	}
	one, _, _ := p.Out.Wait(ctx, 0, func(s string) bool { return s == "one" })
	if two.T.Before(one.T) {
		t.Fatalf("stamps out of order: %v %v", one.T, two.T)
	}
	if _, _, err := p.Err.Wait(ctx, 0, func(s string) bool { return s == "oops" }); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(p.stdin, "x\n"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Out.Wait(ctx, 2, func(s string) bool { return s == "got x" }); err != nil {
		t.Fatal(err)
	}
	// Nothing more comes: Wait ends with EOF, not a hang.
	if _, _, err := p.Out.Wait(ctx, 0, func(s string) bool { return s == "never" }); !errors.Is(err, io.EOF) {
		t.Fatalf("after the end: %v", err)
	}
	<-p.Done()
	if p.Running() || p.Stop(time.Second) != nil {
		t.Fatalf("end: %s", p.Exit())
	}
	b, err := os.ReadFile(filepath.Join(logs, "sh.stdout"))
	if err != nil || string(b) != "one\ntwo\ngot x\n" {
		t.Fatalf("log file %q %v", b, err)
	}
}

// Stop sends SIGTERM; a process that exits non-zero says so with its
// stderr.
func TestProcStop(t *testing.T) {
	p, err := Start("sleeper", t.TempDir(), "/bin/sh", "-c", `trap 'echo bye >&2; exit 3' TERM; echo up; while :; do sleep 0.05; done`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := p.Out.Wait(ctx, 0, func(s string) bool { return s == "up" }); err != nil {
		t.Fatal(err)
	}
	err = p.Stop(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "bye") {
		t.Fatalf("Stop: %v", err)
	}
}
