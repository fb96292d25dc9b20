package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/openykt/yktd/internal/atomicfile"
	"github.com/openykt/yktd/internal/rig"
)

const rigRunUsage = `usage: yktd rig run [flags] SCENARIO.toml...

Runs scenario files (docs/rig.md) against the real binaries: a ledgerd
serve and yktd run processes per scenario, each scenario in its own
directory with its own ports, several at once. A failed scenario prints its
timeline and the end of each process's log and keeps its directory. Exit
0 when every scenario passed or is pending (a pending scenario is reported
as skipped with its issue, never as passed), 1 when one failed, 2 for
wrong usage.`

func rigRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rig run", stderr, func(w io.Writer) { fmt.Fprintln(w, rigRunUsage) })
	self, _ := os.Executable()
	yktd := fs.String("yktd", self, "the yktd `BINARY` under test")
	ledgerd := fs.String("ledgerd", "", "the ledgerd `BINARY` under test (default: ledgerd beside --yktd, else on PATH)")
	parallel := fs.Int("parallel", min(runtime.NumCPU(), 2), "scenarios run at once")
	junit := fs.String("junit", "", "write JUnit XML to `FILE`")
	work := fs.String("work", "", "`DIR` for the scenarios' directories (default the system's temporary directory)")
	keep := fs.Bool("keep", false, "keep the directories of passed scenarios too")
	runPending := fs.Bool("run-pending", false, "run pending scenarios and steps too (after merging what they wait for)")
	pcscd := fs.Bool("pcscd", false, "allow devices on virtual cards behind the machine's pcscd (takes the rig lock)")
	verbose := fs.Bool("v", false, "print every scenario's timeline")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("rig run: name the scenario files\n%s", rigRunUsage)
	}
	if *parallel < 1 {
		return usageError("rig run: --parallel %d: want 1 or more", *parallel)
	}
	if *ledgerd == "" {
		*ledgerd = filepath.Join(filepath.Dir(*yktd), "ledgerd")
		if _, err := os.Stat(*ledgerd); err != nil {
			p, lerr := exec.LookPath("ledgerd")
			if lerr != nil {
				return usageError("rig run: no ledgerd beside %s or on PATH: give --ledgerd", *yktd)
			}
			*ledgerd = p
		}
	}
	for _, b := range []*string{yktd, ledgerd} {
		abs, err := filepath.Abs(*b)
		if err != nil {
			return fmt.Errorf("rig run: %w", err)
		}
		*b = abs
	}
	ctx, stop := runEnv.interrupt(context.Background())
	defer stop()
	sum, err := rig.Run(ctx, fs.Args(), rig.Options{Yktd: *yktd, Ledgerd: *ledgerd, Parallel: *parallel, WorkDir: *work,
		Keep: *keep, RunPending: *runPending, PCSCD: *pcscd, Progress: stderr})
	if err != nil {
		return err
	}
	sum.WriteReport(stdout, *verbose)
	if *junit != "" {
		f, err := os.CreateTemp(filepath.Dir(*junit), ".junit-*")
		if err != nil {
			return fmt.Errorf("rig run: junit: %w", err)
		}
		werr := sum.WriteJUnit(f)
		f.Close()
		if werr == nil {
			var b []byte
			if b, werr = os.ReadFile(f.Name()); werr == nil {
				werr = atomicfile.Write(*junit, b, 0o644)
			}
		}
		os.Remove(f.Name())
		if werr != nil {
			return fmt.Errorf("rig run: junit: %w", werr)
		}
	}
	if !sum.OK() {
		return fmt.Errorf("run: %d of %d scenarios failed", sum.Failed, len(sum.Results))
	}
	return nil
}
