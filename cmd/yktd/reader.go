package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/readers"
)

func init() {
	register(command{
		name:    "reader",
		summary: "list readers or watch taps and scans (technician tool)",
		run:     runReader,
	})
}

const readerUsage = `usage: yktd reader list  [--backend pure|cgo|auto]
       yktd reader watch [--backend pure|cgo|auto] [--reader PREFIX]
       yktd reader list  --config FILE
       yktd reader watch --config FILE

list   prints the readers pcscd knows, with card state and ATR; with
       --config, the readers of the configuration file (name, driver,
       device or pins) and whether each opens.
watch  prints every tap until interrupted: reader, technology, UID and, for
       an e-purse card, its card number and balance; with --config, the
       events of every configured reader (PC/SC, PN532, QR scanner,
       Wiegand), QR codes by length only.`

// watchContext is the context of reader watch: done at Ctrl-C or SIGTERM.
// Tests replace it.
var watchContext = func() (context.Context, context.CancelFunc) {
	return interruptContext(context.Background())
}

// readerOptions are the driver hooks of readers built from --config (GPIO
// lookup, serial open); zero in the binary, set by tests.
var readerOptions readers.Options

func runReader(args []string, stdout, stderr io.Writer) error {
	return runSubcommand(args, stdout, stderr, readerUsage, printer(readerUsage), map[string]runFunc{
		"list":  readerList,
		"watch": readerWatch,
	})
}

func readerFlags(name string, stderr io.Writer) (*flag.FlagSet, *string, *string) {
	fs := newFlagSet("reader "+name, stderr, printer(readerUsage))
	backend := fs.String("backend", "auto", "PC/SC backend: pure (pcscd socket), cgo (libpcsclite) or auto")
	cfg := fs.String("config", "", "use the readers of the configuration `FILE` instead of PC/SC")
	return fs, backend, cfg
}

// parseReaderFlags parses args and the backend, mapping mistakes to usage
// errors. With --config it returns no backend: the file says it.
func parseReaderFlags(fs *flag.FlagSet, backend, cfg *string, args []string) (pcsc.Backend, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() != 0 {
		return "", usageError("unexpected arguments %q", fs.Args())
	}
	if *cfg != "" {
		var clash []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "config" {
				clash = append(clash, "--"+f.Name)
			}
		})
		if len(clash) > 0 {
			return "", usageError("%s: not with --config (the configuration file sets each reader)", strings.Join(clash, ", "))
		}
		return "", nil
	}
	b, err := pcsc.ParseBackend(*backend)
	if err != nil {
		return "", usageError("%v", err)
	}
	if b == pcsc.Cgo && len(pcsc.Backends()) == 1 {
		return "", usageError("--backend cgo: this binary was built without cgo; use pure")
	}
	return b, nil
}

func readerList(args []string, stdout, stderr io.Writer) error {
	fs, backend, cfgPath := readerFlags("list", stderr)
	b, err := parseReaderFlags(fs, backend, cfgPath, args)
	if err != nil {
		return err
	}
	if *cfgPath != "" {
		return readerListConfig(*cfgPath, stdout, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := pcsc.ListReaders(ctx, pcsc.Options{Backend: b})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if len(st) == 0 {
		fmt.Fprintln(stdout, "no readers")
		return nil
	}
	for _, r := range st {
		state := "empty"
		switch {
		case r.Present && r.Mute:
			state = "card (mute)"
		case r.Present:
			state = "card"
		}
		if r.InUse {
			state += ", in use"
		}
		line := fmt.Sprintf("%-32s %s", r.Name, state)
		if len(r.ATR) > 0 {
			line += fmt.Sprintf("  atr=%s tech=%s", hex.EncodeToString(r.ATR), techOf(r.ATR))
		}
		fmt.Fprintln(stdout, line)
	}
	return nil
}

func techOf(atr []byte) reader.Technology {
	a, err := pcsc.ParseATR(atr)
	if err != nil {
		return reader.TechUnknown
	}
	return a.Technology()
}

func readerWatch(args []string, stdout, stderr io.Writer) error {
	fs, backend, cfgPath := readerFlags("watch", stderr)
	prefix := fs.String("reader", "", "watch only readers whose name starts with `PREFIX` (default: all)")
	b, err := parseReaderFlags(fs, backend, cfgPath, args)
	if err != nil {
		return err
	}
	if *cfgPath != "" {
		return readerWatchConfig(*cfgPath, stdout, stderr)
	}
	r, err := pcsc.NewReader(*prefix, pcsc.Options{Backend: b})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	ctx, stop := watchContext()
	defer stop()
	watchReaders(ctx, []reader.Reader{r}, nil, stdout, stderr)
	return nil
}

// watchReaders runs rs under a reader.Manager until ctx is done, printing
// every event.
func watchReaders(ctx context.Context, rs []reader.Reader, log *slog.Logger, stdout, stderr io.Writer) {
	events := make(chan reader.Event, 8)
	m := &reader.Manager{Readers: rs, Log: log}
	go func() {
		m.Run(ctx, events)
		close(events)
	}()
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name()
	}
	fmt.Fprintf(stderr, "watching %s (Ctrl-C to stop)\n", strings.Join(names, ", "))
	for ev := range events {
		fmt.Fprintf(stdout, "%s %s\n", ev.Time.Format("15:04:05.000"), describeTap(ctx, ev))
	}
}

// configReaders loads the configuration file and the options to build its
// readers with: driver logs go to stderr, warnings and above.
func configReaders(path string, stderr io.Writer) (*config.Config, readers.Options, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, readers.Options{}, err
	}
	opts := readerOptions
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return cfg, opts, nil
}

// readerListConfig prints each configured reader and whether it opens; it
// fails when one does not.
func readerListConfig(path string, stdout, stderr io.Writer) error {
	cfg, opts, err := configReaders(path, stderr)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if len(cfg.Readers) == 0 {
		fmt.Fprintf(stdout, "no readers in %s\n", path)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := 0
	for _, c := range cfg.Readers {
		state := "opens"
		r, err := readers.BuildOne(c, opts)
		if err == nil {
			err = readers.Probe(ctx, r)
		}
		if err != nil {
			state = "does not open: " + err.Error()
			failed++
		}
		fmt.Fprintf(stdout, "%-12s %-8s %-44s %s\n", c.Name, c.Driver, readers.Describe(c), state)
	}
	if failed > 0 {
		return fmt.Errorf("list: %d of %d readers do not open", failed, len(cfg.Readers))
	}
	return nil
}

// readerWatchConfig runs every configured reader and prints their events.
// A reader that does not open at start is an error: the technician sees
// which at once, instead of a retry loop in the log.
func readerWatchConfig(path string, stdout, stderr io.Writer) error {
	cfg, opts, err := configReaders(path, stderr)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if len(cfg.Readers) == 0 {
		return fmt.Errorf("watch: no readers in %s", path)
	}
	rs, err := readers.Build(cfg.Readers, opts)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	ctx, stop := watchContext()
	defer stop()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, r := range rs {
		if err := readers.Probe(pctx, r); err != nil {
			return fmt.Errorf("watch: reader %q does not open: %w", r.Name(), err)
		}
	}
	watchReaders(ctx, rs, opts.Log, stdout, stderr)
	return nil
}

// describeTap renders one event; for a card it tries the e-purse. Text
// codes are shown by length only (they can be tokens).
func describeTap(ctx context.Context, ev reader.Event) string {
	if ev.Kind == reader.NumberCredential {
		// A Wiegand number identifies a card like a UID does; the
		// technician needs it to enrol the card.
		return fmt.Sprintf("%s number=%d", ev, ev.Number)
	}
	if ev.Kind != reader.CardPresent {
		return ev.String()
	}
	s := fmt.Sprintf("%s tap tech=%s uid=%s atr=%s", ev.Reader, ev.Tech, hex.EncodeToString(ev.UID), hex.EncodeToString(ev.ATR))
	if ev.Card == nil || ev.Tech == reader.TechMifare {
		return s
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := epurse.Select(cctx, ev.Card, epurse.AIDKingstar); err != nil {
		return s + " (no campus e-purse)"
	}
	pub, err := epurse.ReadPublicData(cctx, ev.Card)
	if err != nil {
		return s + fmt.Sprintf(" e-purse: public data unreadable: %v", err)
	}
	s += " card=" + pub.CardNumber()
	bal, err := epurse.GetBalance(cctx, ev.Card)
	if err != nil {
		return s + fmt.Sprintf(" balance unreadable: %v", err)
	}
	return s + fmt.Sprintf(" balance=%d.%02d", bal/100, bal%100)
}
