package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/internal/rig/rigtest"
)

// TestRigRunCommand: `yktd rig run` exits 0 when every scenario passed or
// is pending, 1 when one failed (a deliberately broken expectation), 2
// for wrong usage, and writes the JUnit XML it is asked for either way.
func TestRigRunCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts yktd and ledgerd")
	}
	yktd, ledgerd := rigtest.Build(t, filepath.Join("..", ".."), t.TempDir())
	scen := func(n string) string { return filepath.Join("..", "..", "testdata", "rig", n) }
	junit := filepath.Join(t.TempDir(), "scenarios.xml")
	base := []string{"rig", "run", "--yktd", yktd, "--ledgerd", ledgerd, "--work", t.TempDir(), "--junit", junit}
	for _, tc := range []struct {
		name  string
		files []string
		code  int
		out   string
	}{
		{"passing and pending", []string{scen("pass.toml"), scen("pending.toml")}, 0, "2 scenarios: 1 passed (0 with pending parts), 0 failed, 1 pending"},
		{"a broken expectation", []string{scen("pass.toml"), scen("broken.toml")}, 1, "balance 8750, want 9000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Remove(junit)
			var out, errb bytes.Buffer
			code := run(append(append([]string{}, base...), tc.files...), &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d, want %d, and %q in:\n%s\nstderr:\n%s", code, tc.code, tc.out, out.String(), errb.String())
			}
			b, err := os.ReadFile(junit)
			var doc struct {
				Suites []struct {
					Tests int `xml:"tests,attr"`
				} `xml:"testsuite"`
			}
			if err != nil || xml.Unmarshal(b, &doc) != nil || len(doc.Suites) != 1 || doc.Suites[0].Tests != len(tc.files) {
				t.Errorf("JUnit %s: %v\n%s", junit, err, b)
			}
		})
	}
	for _, args := range [][]string{{"rig", "run"}, {"rig", "run", "--parallel", "0", scen("pass.toml")}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, errb.String())
		}
	}
}
