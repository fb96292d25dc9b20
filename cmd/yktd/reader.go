package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/pcsc"
)

func init() {
	register(command{
		name:    "reader",
		summary: "list PC/SC readers or watch taps (technician tool)",
		run:     runReader,
	})
}

const readerUsage = `usage: yktd reader list  [--backend pure|cgo|auto]
       yktd reader watch [--backend pure|cgo|auto] [--reader PREFIX]

list   prints the readers pcscd knows, with card state and ATR.
watch  prints every tap until interrupted: reader, technology, UID and, for
       an e-purse card, its card number and balance.`

func runReader(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("missing subcommand\n%s", readerUsage)
	}
	switch args[0] {
	case "list":
		return readerList(args[1:], stdout, stderr)
	case "watch":
		return readerWatch(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, readerUsage)
		return nil
	}
	return usageError("unknown subcommand %q\n%s", args[0], readerUsage)
}

func readerFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("reader "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, readerUsage) }
	backend := fs.String("backend", "auto", "PC/SC backend: pure (pcscd socket), cgo (libpcsclite) or auto")
	return fs, backend
}

// parseReaderFlags parses args and the backend, mapping mistakes to usage errors.
func parseReaderFlags(fs *flag.FlagSet, backend *string, args []string) (pcsc.Backend, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", usageError("%v", err)
	}
	if fs.NArg() != 0 {
		return "", usageError("unexpected arguments %q", fs.Args())
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
	fs, backend := readerFlags("list", stderr)
	b, err := parseReaderFlags(fs, backend, args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := pcsc.ListReaders(ctx, pcsc.Options{Backend: b})
	if err != nil {
		return fmt.Errorf("reader list: %w", err)
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
	fs, backend := readerFlags("watch", stderr)
	prefix := fs.String("reader", "", "watch only readers whose name starts with `PREFIX` (default: all)")
	b, err := parseReaderFlags(fs, backend, args)
	if err != nil {
		return err
	}
	r, err := pcsc.NewReader(*prefix, pcsc.Options{Backend: b})
	if err != nil {
		return fmt.Errorf("reader watch: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	events := make(chan reader.Event, 8)
	m := &reader.Manager{Readers: []reader.Reader{r}}
	go func() {
		m.Run(ctx, events)
		close(events)
	}()
	fmt.Fprintf(stderr, "watching %s (Ctrl-C to stop)\n", r.Name())
	for ev := range events {
		fmt.Fprintf(stdout, "%s %s\n", ev.Time.Format("15:04:05.000"), describeTap(ctx, ev))
	}
	return nil
}

// describeTap renders one event; for a card it tries the e-purse.
func describeTap(ctx context.Context, ev reader.Event) string {
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
