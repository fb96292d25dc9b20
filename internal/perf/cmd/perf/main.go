// Command perf is `make perf` (scripts/perf builds the binaries and runs
// it): the real yktd against its budgets, one table with the baselines of
// the same run, and the same as JSON. See docs/perf.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/openykt/yktd/internal/perf"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o perf.Options
	var out, last string
	var strict bool
	fs.StringVar(&o.Yktd, "yktd", "dist/perf/yktd", "the yktd under test")
	fs.StringVar(&o.Ledgerd, "ledgerd", "dist/perf/ledgerd", "the ledgerd under test")
	fs.StringVar(&o.ArmYktd, "arm", "dist/perf/yktd-linux-armv7", "the linux/arm (GOARM=7) yktd, for its size")
	fs.StringVar(&o.Work, "work", "", "the run's directory, kept (default: a new one under the system's temporary directory, removed after a run that succeeded unless -keep)")
	keep := fs.Bool("keep", false, "keep the run's default directory after a run that succeeded too")
	fs.StringVar(&out, "json", "dist/perf.json", "where the report goes as JSON")
	fs.StringVar(&last, "last", "", "an earlier report to compare with (default: -json's file before this run)")
	fs.IntVar(&o.Listed, "listed", 0, "cards the ledger lists and the device pulls (default: the protocol's maximum, 500000)")
	fs.IntVar(&o.Total, "total", 0, "the device's status list (default 1000000)")
	fs.IntVar(&o.Taps, "taps", 0, "taps on the 1M device (default 200)")
	fs.IntVar(&o.BaseTaps, "base-taps", 0, "taps on the empty-list device (default 40)")
	fs.IntVar(&o.ProbeSales, "probe-sales", 0, "card-only sales (default: -taps)")
	fs.IntVar(&o.ProbeTaps, "probe-taps", 0, "of them, each a tap of its own (default 20)")
	fs.IntVar(&o.Starts, "starts", 0, "starts of each device for start to ready (default 5)")
	fs.BoolVar(&o.DelayedAck, "vpcd-delayed-ack", false, "leave the kernel's delayed ACK on the virtual cards' vpcd sockets (about 44 ms a command)")
	fs.BoolVar(&strict, "strict", false, "exit 3 when a figure is over its budget")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "perf: unexpected arguments %q\n", fs.Args())
		return 2
	}
	// pcscdtest.Setup, which takes the machine-wide pcscd lock, skips
	// under -short and so reads the testing flags: register and parse
	// them (none given).
	testing.Init()
	if err := flag.CommandLine.Parse(nil); err != nil {
		return 2
	}
	temp := o.Work == ""
	if temp {
		dir, err := os.MkdirTemp("", "yktd-perf-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		o.Work = dir
	}
	if last == "" {
		last = out
	}
	prev, err := perf.ReadReport(last)
	if err != nil {
		fmt.Fprintf(stderr, "%v (not compared)\n", err)
		prev = nil
	}
	o.Progress = stderr
	fmt.Fprintf(stderr, "perf: the run's directory (logs, stores, ledgers): %s\n", o.Work)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := perf.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "%v\nperf: logs in %s\n", err, o.Work)
		return 1
	}
	if err := rep.WriteTable(stdout, prev); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := rep.WriteJSON(out); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stderr, "perf: report in %s\n", out)
	if temp && !*keep {
		if err := os.RemoveAll(o.Work); err != nil {
			fmt.Fprintln(stderr, err)
		}
	}
	if strict {
		for _, r := range rep.Rows {
			if r.Over() {
				return 3
			}
		}
	}
	return 0
}
