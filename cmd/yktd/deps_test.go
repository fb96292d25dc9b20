package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestStaticBuildHasNoCgo keeps the field binary static: built with
// CGO_ENABLED=0 for linux/arm, nothing in yktd's dependency graph may need
// cgo (a PC/SC terminal uses the pure-Go pcscd client there) — in the style
// of tailscale's tstest/deptest.
func TestStaticBuildHasNoCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool; not under -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} cgo={{len .CgoFiles}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm", "GOARM=7")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list returned only %d packages: %s", len(lines), out)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, " cgo=0") {
			t.Errorf("static linux/arm build depends on a cgo package: %s", l)
		}
		if strings.HasPrefix(l, "github.com/ebfe/scard") {
			t.Errorf("static build pulls in the cgo PC/SC binding: %s", l)
		}
	}
}
