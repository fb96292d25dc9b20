package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/terminal/config"
)

func init() {
	register(command{
		name:    "relay",
		summary: "pulse a relay of the configured board (technician tool)",
		run:     runRelay,
	})
	register(command{
		name:    "board",
		summary: "show or watch the configured board's inputs (technician tool)",
		run:     runBoard,
	})
}

const relayUsage = `usage: yktd relay pulse NAME [--for 300ms] --config FILE

pulse  makes the relay NAME active for the given time (at least its
       min_pulse), then returns it to its safe state. Ctrl-C ends the pulse
       early and leaves the relay safe.`

const boardUsage = `usage: yktd board inputs --config FILE [--watch]
       yktd board pins

inputs  prints every input's debounced level (active or inactive, after
        active_low); with --watch it then prints every edge until Ctrl-C.
pins    lists the GPIO pins periph.io finds on this machine: the names the
        configuration's pin keys take.`

// boardEnv is what the board commands take from the process; tests replace
// it to run them on a fake clock and to reach the simulated pins.
var boardEnv = struct {
	clock board.Clock
	// fakePins makes the simulated pins of a backend = "fake" board.
	fakePins func(board.Clock) *boardtest.Pins
	// interrupt returns a context ended by Ctrl-C or SIGTERM.
	interrupt func(context.Context) (context.Context, context.CancelFunc)
	// gpioChips is the glob of the machine's GPIO character devices.
	gpioChips string
}{
	clock:     board.SystemClock{},
	fakePins:  boardtest.NewPins,
	interrupt: interruptContext,
	gpioChips: "/dev/gpiochip*",
}

// boardSpec maps the configuration's [board] section to the board package's
// Spec (board imports nothing of ours). Pins stay as configured; a fake
// board fills empty pins with names (boardtest.FillPins).
func boardSpec(c config.Board) board.Spec {
	var s board.Spec
	for _, r := range c.Relays {
		s.Relays = append(s.Relays, board.RelaySpec{
			Name: r.Name, Pin: r.Pin, ActiveLow: r.ActiveLow,
			SafeOn: r.Safe == "on", MinPulse: r.MinPulse.D(),
		})
	}
	for _, in := range c.Inputs {
		pull := board.PullNone
		switch in.Pull {
		case "up":
			pull = board.PullUp
		case "down":
			pull = board.PullDown
		}
		s.Inputs = append(s.Inputs, board.InputSpec{
			Name: in.Name, Pin: in.Pin, ActiveLow: in.ActiveLow, Pull: pull, Debounce: in.Debounce.D(),
		})
	}
	for _, ind := range c.Indicators {
		s.Indicators = append(s.Indicators, board.IndicatorSpec{Name: ind.Name, Pin: ind.Pin, ActiveLow: ind.ActiveLow})
	}
	return s
}

// openBoard builds the configured board: periph.io GPIO, or simulated pins
// for backend = "fake". Every relay is in its safe state when it returns;
// the caller defers Close, which halts the board.
func openBoard(c config.Board, log *slog.Logger) (*board.Board, error) {
	spec := boardSpec(c)
	opts := board.Options{Clock: boardEnv.clock, Logger: log}
	switch c.Backend {
	case "fake":
		spec = boardtest.FillPins(spec)
		opts.Pins = boardEnv.fakePins(boardEnv.clock)
	default:
		pins, err := board.PeriphPins(log)
		if err != nil {
			return nil, err
		}
		opts.Pins = pins
	}
	return board.New(spec, opts)
}

// loadBoardConfig loads --config for a board command.
func loadBoardConfig(path, usage string) (*config.Config, error) {
	if path == "" {
		return nil, usageError("--config FILE is required\n%s", usage)
	}
	return config.Load(path)
}

func runRelay(args []string, stdout, stderr io.Writer) error {
	return runSubcommand(args, stdout, stderr, relayUsage, printer(relayUsage), map[string]runFunc{
		"pulse": relayPulse,
	})
}

func relayPulse(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("relay pulse", stderr, printer(relayUsage))
	cfgPath := fs.String("config", "", "the device configuration `FILE`")
	d := fs.Duration("for", 300*time.Millisecond, "how long the relay stays active")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one relay NAME\n%s", relayUsage)
	}
	cfg, err := loadBoardConfig(*cfgPath, relayUsage)
	if err != nil {
		return err
	}
	name := pos[0]
	if !cfg.Board.HasRelay(name) {
		return usageError("relay %q is not on the board (relays: %v)", name, boardSpecNames(cfg.Board.Relays))
	}
	if errs := missingPins("board", gpioPins(cfg.Board, nil)); len(errs) > 0 {
		return fmt.Errorf("pulse: %w", errors.Join(errs...))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	b, err := openBoard(cfg.Board, log)
	if err != nil {
		return fmt.Errorf("pulse: %w", err)
	}
	defer b.Close()
	r, err := b.Relay(name)
	if err != nil {
		return fmt.Errorf("pulse: %w", err)
	}
	ctx, stop := boardEnv.interrupt(context.Background())
	defer stop()
	if err := r.Pulse(ctx, *d); err != nil {
		if errors.Is(err, board.ErrPulseTooShort) {
			return usageError("--for %s: below relay %q's min_pulse %s", *d, name, cfg.Board.MinPulseOf(name))
		}
		return fmt.Errorf("pulse: %w", err)
	}
	if err := r.Wait(ctx); err != nil {
		_ = b.Close()
		fmt.Fprintf(stdout, "relay %s: pulse interrupted, relay safe\n", name)
		return nil
	}
	fmt.Fprintf(stdout, "relay %s: pulsed %s, back to safe (%s)\n", name, *d, safeWord(cfg.Board, name))
	return b.Close()
}

func boardSpecNames(rs []config.Relay) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func safeWord(c config.Board, relay string) string {
	for _, r := range c.Relays {
		if r.Name == relay {
			return "safe " + r.Safe
		}
	}
	return ""
}

func runBoard(args []string, stdout, stderr io.Writer) error {
	return runSubcommand(args, stdout, stderr, boardUsage, printer(boardUsage), map[string]runFunc{
		"inputs": boardInputs,
		"pins":   boardPins,
	})
}

func boardInputs(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("board inputs", stderr, printer(boardUsage))
	cfgPath := fs.String("config", "", "the device configuration `FILE`")
	watch := fs.Bool("watch", false, "print every edge until Ctrl-C")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("unexpected arguments %q\n%s", pos, boardUsage)
	}
	cfg, err := loadBoardConfig(*cfgPath, boardUsage)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// Only the inputs are opened: a relay or indicator whose pin is wrong
	// does not hide them; it is reported beside them.
	others := config.Board{Backend: cfg.Board.Backend, Relays: cfg.Board.Relays, Indicators: cfg.Board.Indicators}
	for _, err := range missingPins("board", gpioPins(others, nil)) {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	b, err := openBoard(config.Board{Backend: cfg.Board.Backend, Inputs: cfg.Board.Inputs}, log)
	if err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	defer b.Close()
	ctx, stop := boardEnv.interrupt(context.Background())
	defer stop()
	// Subscribe before printing the levels so that no edge falls between.
	var edges <-chan board.Edge
	if *watch {
		edges = b.Watch(ctx)
	}
	if len(cfg.Board.Inputs) == 0 {
		fmt.Fprintln(stdout, "no inputs configured")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, c := range cfg.Board.Inputs {
		in, err := b.Input(c.Name)
		if err != nil {
			return fmt.Errorf("inputs: %w", err)
		}
		wiring := "active-high"
		if c.ActiveLow {
			wiring = "active-low"
		}
		pin := c.Pin
		if pin == "" {
			pin = "(sim)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, pin, activeWord(in.Active()), wiring)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !*watch {
		return b.Close()
	}
	fmt.Fprintln(stderr, "watching inputs (Ctrl-C to stop)")
	for e := range edges {
		fmt.Fprintf(stdout, "%s %s %s\n", e.Time.Format("15:04:05.000"), e.Input, activeWord(e.Active))
	}
	return b.Close()
}

func activeWord(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}

func boardPins(args []string, stdout, stderr io.Writer) error {
	if len(args) != 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintln(stderr, boardUsage)
			return flag.ErrHelp
		}
		return usageError("board pins takes no arguments\n%s", boardUsage)
	}
	list, err := board.PeriphPinList(slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return fmt.Errorf("pins: %w", err)
	}
	if len(list) == 0 {
		if chips := gpioChips(); len(chips) > 0 {
			fmt.Fprintf(stdout, "no GPIO pins found although %s exist: periph.io/x/host >= 3.8.3 needs Linux kernel >= 5.10 for them (this one is %s)\n",
				strings.Join(chips, ", "), kernelRelease())
		} else {
			fmt.Fprintf(stdout, "no GPIO pins: this machine has no GPIO chips (no %s)\n", boardEnv.gpioChips)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, p := range list {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Name, p.Number, p.Function)
	}
	return tw.Flush()
}
