// Command yktd is the one binary of a campus one-card terminal: the daemon and
// the technician's tools (journal, status list, readers, rig) as subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand of yktd.
type command struct {
	name    string
	summary string
	// run executes the subcommand with its arguments (the subcommand name
	// removed). It writes its normal output to stdout and returns an error
	// for anything that should end with a non-zero exit code.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// register adds a subcommand; each subcommand file calls it from init.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("yktd: duplicate subcommand " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by wrong command-line use; it exits with 2.
var errUsage = errors.New("usage")

// usageError wraps a message so that main exits with code 2.
func usageError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func init() {
	register(command{
		name:    "version",
		summary: "print the version of this binary",
		run: func(args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("version", stderr, printer("usage: yktd version\n\nprints the version this binary was built as."))
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 0 {
				return usageError("version takes no arguments")
			}
			fmt.Fprintf(stdout, "yktd %s\n", version)
			return nil
		},
	})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: yktd <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'yktd <command> -h' for the arguments of a command.")
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "yktd: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errIntentsPending):
		return 3
	case errors.Is(err, errStoreLost):
		fmt.Fprintf(stderr, "yktd %s: %v\n", c.name, err)
		return 4
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "yktd %s: %s\n", c.name, strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	default:
		fmt.Fprintf(stderr, "yktd %s: %v\n", c.name, err)
		return 1
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
