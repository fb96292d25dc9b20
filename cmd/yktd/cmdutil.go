package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// The scaffolding the technician commands (relay, board, reader, rig)
// share: subcommand dispatch, flag sets and parsing, interrupt contexts.

// runFunc runs a command or subcommand with its arguments (its name
// removed), as command.run does.
type runFunc = func(args []string, stdout, stderr io.Writer) error

// printer returns a help function printing text and a newline.
func printer(text string) func(io.Writer) {
	return func(w io.Writer) { fmt.Fprintln(w, text) }
}

// runSubcommand runs the subcommand args[0] from subs with the rest of
// args. No subcommand or an unknown one is a usage error quoting usage;
// -h, --help and help print help to stderr.
func runSubcommand(args []string, stdout, stderr io.Writer, usage string, help func(io.Writer), subs map[string]runFunc) error {
	if len(args) == 0 {
		return usageError("missing subcommand\n%s", usage)
	}
	if sub, ok := subs[args[0]]; ok {
		return sub(args[1:], stdout, stderr)
	}
	switch args[0] {
	case "-h", "--help", "help":
		help(stderr)
		return nil
	}
	return usageError("unknown subcommand %q\n%s", args[0], usage)
}

// newFlagSet returns the flag set of the command name: errors and help
// (printed by help) go to stderr, and parsing returns its errors.
func newFlagSet(name string, stderr io.Writer, help func(io.Writer)) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { help(stderr) }
	return fs
}

// parseFlags parses args with fs: -h gives flag.ErrHelp (exit 0), a
// wrong flag a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	return nil
}

// parseInterleaved parses flags that may come before and after positional
// arguments ("pulse in --for 1s" as well as "pulse --for 1s in") and returns
// the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// interruptContext returns a context ended by Ctrl-C or SIGTERM.
func interruptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
