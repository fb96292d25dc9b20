package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio/gpioreg"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/offline"
)

// testGateConfig is a device configuration that runs on any machine: a
// gate on a virtual reader and a simulated board, no ledger. DATA_DIR is
// replaced by the data directory.
const testGateConfig = `
[device]
id = "GATE-TEST-01"
kind = "gate"
data_dir = "DATA_DIR"
log_format = "text"

[[reader]]
name = "in"
driver = "sim"

[board]
backend = "fake"
[[board.relay]]
name = "arm_in"

[gate]
door = "dorm-3-east"
relay_in = "arm_in"
`

// writeDeviceConfig writes text (DATA_DIR replaced by dataDir) to a file in
// a new temporary directory and returns its path.
func writeDeviceConfig(t *testing.T, text, dataDir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "yktd.toml")
	text = strings.ReplaceAll(text, "DATA_DIR", filepath.ToSlash(dataDir))
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// exited waits for a daemonRun that is expected to end by itself.
func (r *daemonRun) exited(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("yktd did not exit\nstderr:\n%s", r.stderr)
	}
	return -1
}

// repeatedPrefix reports a "word: word:" prefix written twice in msg, as in
// "yktd run: run: ...", or "" when there is none.
func repeatedPrefix(msg string) string {
	seen := map[string]bool{}
	for _, seg := range strings.Split(strings.SplitN(msg, "\n", 2)[0], ": ") {
		seg = strings.TrimPrefix(seg, "yktd ")
		if strings.ContainsAny(seg, " /") {
			continue
		}
		if seen[seg] {
			return seg
		}
		seen[seg] = true
	}
	return ""
}

func TestRepeatedPrefix(t *testing.T) {
	for msg, want := range map[string]string{
		"yktd run: run: offline: open /a/b: store in use": "run",
		"yktd demo: demo: x":                              "demo",
		"yktd run: offline: open /a/b: store in use":      "",
		"yktd run: board: relay \"a\": pin: not found":    "",
		"yktd run: offline: open /a: offline: in use":     "offline",
	} {
		if got := repeatedPrefix(msg); got != want {
			t.Errorf("repeatedPrefix(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestRunErrorsSayItOnce: an error is printed with the command's prefix
// once ("yktd run: ..."), not "yktd run: run: ...".
func TestRunErrorsSayItOnce(t *testing.T) {
	dir := t.TempDir()
	held, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{DeviceID: "GATE-TEST-01"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cfg := writeDeviceConfig(t, testGateConfig, dir)
	for _, args := range [][]string{
		{"run", "--config", cfg},
		{"run", "--sim", "--no-ledger", "--auto", "0", "--dir", dir},
		{"demo", "--dir", dir},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			r := startRun(t, 20*time.Second, nil, args...)
			if code := r.exited(t); code != 1 {
				t.Fatalf("exit %d with the store held by another, want 1\nstderr:\n%s", code, r.stderr)
			}
			msg := r.stderr.String()
			line := msg[strings.LastIndex(msg, "yktd "+args[0]+":"):]
			if !strings.Contains(line, "in use") {
				t.Errorf("the error does not say the store is in use:\n%s", msg)
			}
			if p := repeatedPrefix(line); p == args[0] {
				t.Errorf("the error repeats its prefix %q:\n%s", p, line)
			}
		})
	}
}

// TestBoardPinsWithoutGPIOChips: on a machine with no GPIO character
// devices, board pins says so instead of blaming the kernel version.
func TestBoardPinsWithoutGPIOChips(t *testing.T) {
	saved := boardEnv
	t.Cleanup(func() { boardEnv = saved })
	devDir := t.TempDir()
	boardEnv.gpioChips = filepath.Join(devDir, "gpiochip*")
	var out, errb bytes.Buffer
	if code := run([]string{"board", "pins"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); !strings.Contains(got, "no GPIO chips") || !strings.Contains(got, boardEnv.gpioChips) || strings.Contains(got, "kernel") {
		t.Errorf("board pins without GPIO chips says %q", got)
	}
	// With a chip the kernel does not let periph.io use, the kernel is
	// the suspect.
	if err := os.WriteFile(filepath.Join(devDir, "gpiochip0"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"board", "pins"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); !strings.Contains(got, "gpiochip0") || !strings.Contains(got, "kernel") {
		t.Errorf("board pins with a GPIO chip but no pins says %q", got)
	}
}

// exampleConfig reads a shipped example configuration with its data_dir
// moved to dataDir.
func exampleConfig(t *testing.T, name, dataDir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", name))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^data_dir = "[^"]*"`)
	if !re.Match(src) {
		t.Fatalf("testdata/config/%s has no data_dir line to move", name)
	}
	return string(re.ReplaceAll(src, []byte(`data_dir = "DATA_DIR"`)))
}

// TestRunConfigChecksBeforeCreating runs the shipped example
// configurations on this machine (no GPIO, no ledger CA): every problem is
// reported at once, and nothing is created, not even the data directory.
func TestRunConfigChecksBeforeCreating(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := func(s string) string {
		return regexp.MustCompile(`(?m)^backend = "periph".*$`).ReplaceAllString(s, `backend = "fake"`)
	}
	noSync := func(s string) string {
		return regexp.MustCompile(`(?m)^(ledger|ca_file) = .*$`).ReplaceAllString(s, "")
	}
	for _, tc := range []struct {
		name    string
		text    string
		dataDir string // "" for a new folder in a temporary directory
		want    []string
	}{
		{"pos.toml", exampleConfig(t, "pos.toml", "DATA_DIR"), "",
			[]string{`indicator "buzzer"`, `"GPIO18"`, "no GPIO chips", "sync.ca_file", "/etc/yktd/ledger-ca.pem"}},
		{"gate.toml", exampleConfig(t, "gate.toml", "DATA_DIR"), "",
			[]string{`relay "arm_in"`, `"GPIO17"`, `input "tamper"`, `"GPIO19"`, "sync.ca_file"}},
		{"soft SAM key file missing", strings.Replace(noSync(fake(exampleConfig(t, "pos.toml", "DATA_DIR"))),
			`sam = "pcsc:Identiv uTrust"`, `sam = "soft:/nonexistent/yktd/sam.json"`, 1), "",
			[]string{"device.sam", "/nonexistent/yktd/sam.json"}},
		{"data_dir under a file", noSync(fake(exampleConfig(t, "gate.toml", "DATA_DIR"))), filepath.Join(notADir, "yktd"),
			[]string{"device.data_dir", "not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := tc.dataDir
			if dataDir == "" {
				dataDir = filepath.Join(t.TempDir(), "var-lib-yktd")
			}
			cfg := writeDeviceConfig(t, tc.text, dataDir)
			r := startRun(t, 20*time.Second, nil, "run", "--config", cfg)
			if code := r.exited(t); code != 1 {
				t.Fatalf("exit %d, want 1\nstderr:\n%s", code, r.stderr)
			}
			msg := r.stderr.String()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr does not say %q:\n%s", want, msg)
				}
			}
			if _, err := os.Lstat(dataDir); err == nil {
				t.Errorf("the data directory %s was created", dataDir)
			}
		})
	}
}

// TestBoardInputsWithWrongRelayPin: board inputs shows the inputs of a
// board whose relay pin does not exist, and says what is wrong with the
// relay.
func TestBoardInputsWithWrongRelayPin(t *testing.T) {
	p := boardtest.NewPins(board.SystemClock{}).Get("YKT_IN_PASS")
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister("YKT_IN_PASS") })
	cfg := writeConfig(t, `
[device]
id = "GATE-0001"
kind = "gate"
data_dir = "/var/lib/yktd"

[board]
backend = "periph"
[[board.relay]]
name = "arm_in"
pin = "YKT_NO_SUCH_PIN"
[[board.input]]
name = "pass_in"
pin = "YKT_IN_PASS"

[gate]
door = "dorm-3-east"
relay_in = "arm_in"
passage_in = "pass_in"
`)
	var out, errb bytes.Buffer
	if code := run([]string{"board", "inputs", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out.String(), errb.String())
	}
	if f := strings.Fields(out.String()); len(f) != 4 || f[0] != "pass_in" || f[1] != "YKT_IN_PASS" {
		t.Errorf("stdout %q, want the pass_in line", out.String())
	}
	if msg := errb.String(); !strings.Contains(msg, `relay "arm_in"`) || !strings.Contains(msg, "YKT_NO_SUCH_PIN") {
		t.Errorf("stderr does not name the relay's wrong pin: %q", msg)
	}
}
