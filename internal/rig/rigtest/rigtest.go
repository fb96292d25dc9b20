// Package rigtest builds the binaries a test of the scenario runner runs:
// yktd and ledgerd from this module, with the go command that runs the
// tests (CGO_ENABLED=0, as `make build` builds them).
package rigtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Build builds yktd and ledgerd of the module at root (the directory
// holding go.mod) into dir and returns their paths; a failed build fails
// the test.
func Build(t testing.TB, root, dir string) (yktd, ledgerd string) {
	t.Helper()
	if err := build(root, dir); err != "" {
		t.Fatal(err)
	}
	return filepath.Join(dir, "yktd"), filepath.Join(dir, "ledgerd")
}

func build(root, dir string) string {
	// The go command that runs these tests: on PATH, or where GOROOT says
	// (go test sets it for its child processes).
	goBin := "go"
	if _, err := exec.LookPath(goBin); err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goBin = filepath.Join(root, "bin", "go")
		}
	}
	cmd := exec.Command(goBin, "build", "-o", dir+string(filepath.Separator), "./cmd/yktd", "./cmd/ledgerd")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "go build ./cmd/yktd ./cmd/ledgerd: " + err.Error() + "\n" + string(out)
	}
	return ""
}

var (
	once     sync.Once
	dir      string
	buildErr string
)

// Binaries is Build once per test process, into a directory that Cleanup
// removes (call it from TestMain after m.Run).
func Binaries(t testing.TB, root string) (yktd, ledgerd string) {
	t.Helper()
	once.Do(func() {
		d, err := os.MkdirTemp("", "yktd-rigtest-bin-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		dir = d
		buildErr = build(root, dir)
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return filepath.Join(dir, "yktd"), filepath.Join(dir, "ledgerd")
}

// Cleanup removes what Binaries built.
func Cleanup() {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}
