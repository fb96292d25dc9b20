package main

import (
	"bytes"
	"strings"
	"testing"
)

// -h is exit 0 with the flags; a wrong command line is exit 2 before
// anything runs.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"-h"}, 0, "-taps"},
		{[]string{"-taps", "many"}, 2, "invalid value"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-nosuch"}, 2, "not defined"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.say) {
			t.Errorf("%q: exit %d, want %d; stderr %q lacks %q", tc.args, code, tc.code, errb.String(), tc.say)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", tc.args, out.String())
		}
	}
}
