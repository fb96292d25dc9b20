package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/openykt/yktd/terminal/config"
)

// runWithStdin runs yktd args with stdin as its input.
func runWithStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := runEnv
	t.Cleanup(func() { runEnv = old })
	runEnv.stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCashierPIN: the printed line parses as the configuration's key and
// verifies the PIN read from stdin, and nothing printed contains the PIN.
func TestCashierPIN(t *testing.T) {
	code, out, errs := runWithStdin(t, "80246\n", "cashier-pin")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out+errs, "80246") {
		t.Errorf("the PIN was printed:\n%s%s", out, errs)
	}
	line := strings.TrimSpace(out)
	val, ok := strings.CutPrefix(line, "cashier_pin_hash = ")
	if !ok || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout %q, want one cashier_pin_hash line", out)
	}
	cfg, err := config.Parse([]byte("[device]\nid = \"P\"\nkind = \"pos\"\ndata_dir = \"/x\"\n[pos]\nmode = \"keyed\"\n" + line + "\n"))
	if err != nil {
		t.Fatalf("the printed line %s: %v", val, err)
	}
	h := cfg.POS.CashierPINHash
	if !h.Verify("80246") || h.Verify("80247") || h.Iterations() != config.DefaultPINIterations {
		t.Errorf("the printed hash %s does not verify the PIN (iterations %d)", h, h.Iterations())
	}
	// A line end from another system is not part of the PIN.
	if code, out, _ := runWithStdin(t, "1357\r\n", "cashier-pin"); code != 0 || !strings.Contains(out, "pbkdf2-sha256$") {
		t.Errorf("PIN with CRLF: exit %d, %q", code, out)
	}
}

func TestCashierPINRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
	}{
		{"letters", "12ab\n", nil, 1},
		{"short", "123\n", nil, 1},
		{"long", "1234567890123\n", nil, 1},
		{"spaces", " 1234\n", nil, 1},
		{"nothing", "", nil, 1},
		{"argument", "1234\n", []string{"1234"}, 2},
		{"flag", "1234\n", []string{"--pin", "1234"}, 2},
		{"help", "", []string{"-h"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runWithStdin(t, tc.stdin, append([]string{"cashier-pin"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, errs)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if pin := strings.TrimSpace(tc.stdin); len(pin) >= 3 && strings.Contains(errs, pin) && tc.code == 1 {
				t.Errorf("the refused PIN is quoted: %s", errs)
			}
			if tc.code == 0 && !strings.Contains(errs, "usage: yktd cashier-pin") {
				t.Errorf("-h: %s", errs)
			}
		})
	}
}
