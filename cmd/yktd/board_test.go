package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/terminal/config"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

const fakeGateConfig = `
[device]
id = "GATE-0001"
kind = "gate"
data_dir = "/var/lib/yktd"

[board]
backend = "fake"
[[board.relay]]
name = "arm_in"
active_low = true
min_pulse = "100ms"
[[board.relay]]
name = "lock"
pin = "GPIO22"
safe = "on"
[[board.input]]
name = "pass_in"
pull = "up"
active_low = true
debounce = "20ms"
[[board.input]]
name = "fire"
[[board.indicator]]
name = "buzzer"

[gate]
door = "dorm-3-east"
relay_in = "arm_in"
passage_in = "pass_in"
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "yktd.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeBoardEnv runs the board commands on a fake clock; it returns the clock,
// a channel that yields the simulated pins of each board opened, and a
// cancel that plays Ctrl-C.
func fakeBoardEnv(t *testing.T) (*boardtest.Clock, <-chan *boardtest.Pins, context.CancelFunc) {
	t.Helper()
	saved := boardEnv
	t.Cleanup(func() { boardEnv = saved })
	clock := boardtest.NewClock(boardtest.Epoch)
	pinsCh := make(chan *boardtest.Pins, 4)
	ctrlC, cancel := context.WithCancel(context.Background())
	boardEnv.clock = clock
	boardEnv.fakePins = func(c board.Clock) *boardtest.Pins {
		p := boardtest.NewPins(c)
		pinsCh <- p
		return p
	}
	boardEnv.interrupt = func(ctx context.Context) (context.Context, context.CancelFunc) {
		ctx, stop := context.WithCancel(ctx)
		go func() {
			select {
			case <-ctrlC.Done():
				stop()
			case <-ctx.Done():
			}
		}()
		return ctx, stop
	}
	t.Cleanup(cancel)
	return clock, pinsCh, cancel
}

func receivePins(t *testing.T, ch <-chan *boardtest.Pins) *boardtest.Pins {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no board opened")
	}
	return nil
}

type result struct {
	code           int
	stdout, stderr string
}

// runAsync runs yktd with args in a goroutine.
func runAsync(args ...string) (<-chan result, *testbuf.Buffer) {
	out := &testbuf.Buffer{}
	done := make(chan result, 1)
	go func() {
		var errb bytes.Buffer
		code := run(args, out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	return done, out
}

func waitResult(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("command did not return")
	}
	return result{}
}

func TestBoardSpecFromConfig(t *testing.T) {
	c, err := config.Parse([]byte(fakeGateConfig))
	if err != nil {
		t.Fatal(err)
	}
	got := boardSpec(c.Board)
	want := board.Spec{
		Relays: []board.RelaySpec{
			{Name: "arm_in", ActiveLow: true, MinPulse: 100 * time.Millisecond},
			{Name: "lock", Pin: "GPIO22", SafeOn: true, MinPulse: config.DefaultMinPulse},
		},
		Inputs: []board.InputSpec{
			{Name: "pass_in", ActiveLow: true, Pull: board.PullUp, Debounce: 20 * time.Millisecond},
			{Name: "fire", Debounce: config.DefaultDebounce},
		},
		Indicators: []board.IndicatorSpec{{Name: "buzzer"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spec\n got %+v\nwant %+v", got, want)
	}
}

func TestRelayPulseCommand(t *testing.T) {
	clock, pinsCh, _ := fakeBoardEnv(t)
	cfg := writeConfig(t, fakeGateConfig)
	done, _ := runAsync("relay", "pulse", "arm_in", "--for", "250ms", "--config", cfg)
	pins := receivePins(t, pinsCh)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.AwaitTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(249 * time.Millisecond)
	if pins.High("arm_in") {
		t.Fatal("active-low relay pin high (released) before 250ms")
	}
	clock.Advance(time.Millisecond)
	r := waitResult(t, done)
	if r.code != 0 || !strings.Contains(r.stdout, "relay arm_in: pulsed 250ms") {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	var got []string
	for _, c := range pins.ChangesOf("arm_in") {
		got = append(got, c.Time.Sub(boardtest.Epoch).String()+map[bool]string{true: " H", false: " L"}[c.High])
	}
	if want := []string{"0s H", "0s L", "250ms H"}; !reflect.DeepEqual(got, want) {
		t.Errorf("arm_in changes %v, want %v", got, want)
	}
	// The safe-on lock was energised at start and stayed so.
	if !pins.High("GPIO22") {
		t.Error("safe-on lock not energised")
	}
}

func TestRelayPulseInterrupted(t *testing.T) {
	clock, pinsCh, ctrlC := fakeBoardEnv(t)
	cfg := writeConfig(t, fakeGateConfig)
	done, out := runAsync("relay", "pulse", "--config", cfg, "arm_in", "--for", "1h")
	pins := receivePins(t, pinsCh)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.AwaitTimers(ctx, 1); err != nil { // the pulse runs
		t.Fatal(err)
	}
	if pins.High("arm_in") {
		t.Fatal("active-low relay not active (low) during the pulse")
	}
	ctrlC()
	r := waitResult(t, done)
	if r.code != 0 || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !pins.High("arm_in") {
		t.Error("active-low relay not back to safe (high) after Ctrl-C")
	}
}

func TestBoardCommandsUsage(t *testing.T) {
	fakeBoardEnv(t)
	cfg := writeConfig(t, fakeGateConfig)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"relay no sub", []string{"relay"}, "missing subcommand"},
		{"relay bad sub", []string{"relay", "toggle"}, "unknown subcommand"},
		{"no name", []string{"relay", "pulse", "--config", cfg}, "one relay NAME"},
		{"two names", []string{"relay", "pulse", "a", "b", "--config", cfg}, "one relay NAME"},
		{"no config", []string{"relay", "pulse", "arm_in"}, "--config FILE is required"},
		{"bad duration", []string{"relay", "pulse", "arm_in", "--for", "soon", "--config", cfg}, "invalid value"},
		{"unknown relay", []string{"relay", "pulse", "arm_out", "--config", cfg}, `relay "arm_out" is not on the board`},
		{"too short", []string{"relay", "pulse", "arm_in", "--for", "50ms", "--config", cfg}, "below relay \"arm_in\"'s min_pulse 100ms"},
		{"board no sub", []string{"board"}, "missing subcommand"},
		{"board extra", []string{"board", "inputs", "x", "--config", cfg}, "unexpected arguments"},
		{"board no config", []string{"board", "inputs"}, "--config FILE is required"},
		{"board pins extra", []string{"board", "pins", "x"}, "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.want)
			}
		})
	}
}

func TestBoardInputsCommand(t *testing.T) {
	fakeBoardEnv(t)
	cfg := writeConfig(t, fakeGateConfig)
	var out, errb bytes.Buffer
	if code := run([]string{"board", "inputs", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q, want two lines", out.String())
	}
	for i, want := range [][]string{{"pass_in", "(sim)", "inactive", "active-low"}, {"fire", "(sim)", "inactive", "active-high"}} {
		if f := strings.Fields(lines[i]); !reflect.DeepEqual(f, want) {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], want)
		}
	}
}

func TestBoardInputsWatch(t *testing.T) {
	clock, pinsCh, ctrlC := fakeBoardEnv(t)
	cfg := writeConfig(t, fakeGateConfig)
	done, out := runAsync("board", "inputs", "--watch", "--config", cfg)
	pins := receivePins(t, pinsCh)
	out.WaitFor(t, "fire", 10*time.Second) // levels printed: the watch is subscribed
	pins.Set("pass_in", false)             // active-low sensor closes at 08:00:00.000
	clock.Advance(5 * time.Millisecond)
	pins.Set("fire", true) // no explicit debounce: default 20ms
	clock.Advance(30 * time.Millisecond)
	out.WaitFor(t, "08:00:00.005 fire active", 10*time.Second)
	ctrlC()
	r := waitResult(t, done)
	if r.code != 0 {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	edges := r.stdout[strings.Index(r.stdout, "08:00"):]
	if want := "08:00:00.000 pass_in active\n08:00:00.005 fire active\n"; edges != want {
		t.Errorf("edges %q, want %q", edges, want)
	}
	if !strings.Contains(r.stderr, "watching inputs") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestPeriphBoardMissingPin(t *testing.T) {
	cfg := writeConfig(t, strings.Replace(strings.Replace(fakeGateConfig, `backend = "fake"`, `backend = "periph"`, 1),
		`name = "arm_in"`, `name = "arm_in"`+"\npin = \"YKT_NO_SUCH_PIN\"", 1))
	var out, errb bytes.Buffer
	// periph needs every pin; the others are missing too, arm_in is first.
	text := strings.NewReplacer(`name = "pass_in"`, "name = \"pass_in\"\npin = \"YKT_P2\"",
		`name = "fire"`, "name = \"fire\"\npin = \"YKT_P3\"",
		`name = "buzzer"`, "name = \"buzzer\"\npin = \"YKT_P4\"").Replace(readFile(t, cfg))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	saved := boardEnv
	t.Cleanup(func() { boardEnv = saved })
	devDir := t.TempDir()
	boardEnv.gpioChips = filepath.Join(devDir, "gpiochip*")
	for _, want := range [][]string{
		{`relay "arm_in": pin "YKT_NO_SUCH_PIN"`, "no GPIO chips"},                     // a machine without GPIO
		{`relay "arm_in": pin "YKT_NO_SUCH_PIN"`, "gpiochip0", "Linux kernel >= 5.10"}, // GPIO the kernel does not give periph.io, or a wrong name
	} {
		errb.Reset()
		code := run([]string{"relay", "pulse", "arm_in", "--config", cfg}, &out, &errb)
		if code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", code, errb.String())
		}
		for _, w := range want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("stderr %q does not say %q", errb.String(), w)
			}
		}
		if err := os.WriteFile(filepath.Join(devDir, "gpiochip0"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBoardPinsCommand(t *testing.T) {
	p := boardtest.NewPins(nil).Get("YKT_CMD_PIN")
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister("YKT_CMD_PIN") })
	var out, errb bytes.Buffer
	if code := run([]string{"board", "pins"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	found := false
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "YKT_CMD_PIN" {
			found = true
		}
	}
	if !found {
		t.Errorf("registered pin not listed: %q", out.String())
	}
}
