package pcscdtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of ending
// the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }
func (r *recorder) Fatal(args ...any)            { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)             { r.skip = fmt.Sprint(args...) }

// A rig that cannot run skips outside CI and fails in CI, with the reason.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		ci         string
		fail, skip bool
	}{{"", false, true}, {"true", true, false}} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		Unavailable(r, "pcscd not installed")
		if (r.fatal != "") != tc.fail || (r.skip != "") != tc.skip {
			t.Errorf("CI=%q: fatal %q, skip %q", tc.ci, r.fatal, r.skip)
		}
		if msg := r.fatal + r.skip; msg != "" && !strings.Contains(msg, "pcscd not installed") {
			t.Errorf("CI=%q: %q does not say why", tc.ci, msg)
		}
		// Own without a daemon of ours: the same rule.
		r = &recorder{TB: t}
		(&Rig{}).Own(r)
		if (r.fatal != "") != tc.fail || (r.skip != "") != tc.skip {
			t.Errorf("Own, CI=%q: fatal %q, skip %q", tc.ci, r.fatal, r.skip)
		}
	}
}

// readersUp waits for both vpcd readers, and says what it saw when they
// do not come.
func TestReadersUp(t *testing.T) {
	calls := 0
	list := func(context.Context) ([]string, error) {
		calls++
		switch calls {
		case 1:
			return nil, errors.New("connection refused")
		case 2:
			return []string{Reader0}, nil
		}
		return []string{Reader0, Reader1}, nil
	}
	if err := readersUp(list, 10*time.Second); err != nil || calls != 3 {
		t.Fatalf("readersUp = %v after %d calls", err, calls)
	}
	only := func(context.Context) ([]string, error) { return []string{Reader0}, nil }
	if err := readersUp(only, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), Reader0) {
		t.Fatalf("one reader only: %v", err)
	}
}
