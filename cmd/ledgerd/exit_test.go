package main

import (
	"slices"
	"strings"
	"testing"
)

// TestExitCodes (issue 11.1): every ledgerd command and subcommand answers
// -h and --help with its usage and exit 0; a flag it does not know, a
// missing or extra argument is a usage error: exit 2 with the usage.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	groups := map[string]bool{}
	var names []string
	for name := range commands {
		names = append(names, name)
		if g, _, ok := strings.Cut(name, " "); ok {
			groups[g] = true
		}
	}
	slices.Sort(names)
	type tc struct {
		args []string
		code int
	}
	var tests []tc
	for _, name := range names {
		words := strings.Fields(name)
		tests = append(tests,
			tc{append(slices.Clone(words), "-h"), 0},
			tc{append(slices.Clone(words), "--help"), 0},
			tc{append(slices.Clone(words), "--bogus"), 2},
		)
	}
	for g := range groups {
		tests = append(tests,
			tc{[]string{g, "-h"}, 0},
			tc{[]string{g, "--help"}, 0},
			tc{[]string{g}, 2},
			tc{[]string{g, "frobnicate"}, 2},
			tc{[]string{g, "--bogus"}, 2},
		)
	}
	tests = append(tests,
		tc{nil, 2},
		tc{[]string{"-h"}, 0},
		tc{[]string{"--help"}, 0},
		tc{[]string{"help"}, 0},
		tc{[]string{"frobnicate"}, 2},
		tc{[]string{"version"}, 0},
		tc{[]string{"version", "extra"}, 2},
		tc{[]string{"init"}, 2}, // no --data
		tc{[]string{"report", "--data", dir, "extra"}, 2},
		tc{[]string{"device", "revoke", "--data", dir}, 2},
		tc{[]string{"device", "rekey", "--data", dir}, 2},
		tc{[]string{"token", "new", "--data", dir}, 2},
		tc{[]string{"load", "add", "--data", dir, "123", "abc"}, 2},
		tc{[]string{"serve", "--data", dir, "--max-requests", "0"}, 2},
		tc{[]string{"keys", "--data", dir, "--pem", "--fingerprint"}, 2},
	)
	for _, c := range tests {
		code, stdout, stderr := runCmd(t, c.args...)
		if code != c.code {
			t.Errorf("ledgerd %s: exit %d, want %d\n%s", strings.Join(c.args, " "), code, c.code, stderr)
			continue
		}
		if c.code == 0 && len(c.args) > 0 && (c.args[len(c.args)-1] == "-h" || c.args[len(c.args)-1] == "--help") &&
			!strings.Contains(stdout+stderr, "usage") && !strings.Contains(stdout+stderr, "Usage") {
			t.Errorf("ledgerd %s: no usage shown", strings.Join(c.args, " "))
		}
		if c.code == 2 && !strings.Contains(stderr, "usage") {
			t.Errorf("ledgerd %s: exit 2 without the usage:\n%s", strings.Join(c.args, " "), stderr)
		}
	}
}
