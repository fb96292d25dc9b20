package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/selftest"
)

func init() {
	register(command{
		name:    "selftest",
		summary: "check the device: readers, PSAM, board, store, disk, clock, ledger, enrolment, status list (technician tool)",
		run:     runSelftest,
	})
}

const selftestUsage = `usage: yktd selftest [--config FILE] [--json] [--tap] [--relays] [--timeout 20s]

Checks this device and prints one line per check: PASS, WARN, FAIL or SKIP,
what was found and, for a warning or a failure, what to do (in English and
Chinese). docs/selftest.md lists every check.

Beside a running daemon it reads the daemon's state from its control
interface (GET /v1/health on control.listen) and leaves the readers and the
board to it; alone it opens the store read-only and the readers, the PSAM
and the board as ` + "`yktd run`" + ` does. Either way it asks the ledger with a
signed request (nothing is written anywhere).

--tap      also wait for a card (or QR code, or Wiegand number) on any reader
           (alone only: beside the daemon a tap is a sale)
--relays   also pulse every relay once (it moves the turnstile or opens the
           door; alone only); without it the relays check is skipped
--timeout  bounds the whole selftest, the wait for --tap included
--json     print the report as one JSON object instead

Exit code 0 when no check failed (warnings are fine), 1 when one did, 2 for
wrong usage.`

// defaultConfig is the configuration a device runs with (packaging/yktd.service).
const defaultConfig = "/etc/yktd/yktd.toml"

// buildDate is the date this binary was built, stamped with -ldflags
// "-X main.buildDate=2026-12-07" (optional): the clock check fails a clock
// that reads earlier.
var buildDate = ""

// sourceDate is the date of this source: with or without a stamped build
// date, no correct clock reads earlier than the code it runs.
const sourceDate = "2026-12-07"

// selftestEnv is what selftest takes from the process; tests replace it.
var selftestEnv = struct {
	now func() time.Time
	// statfs returns the free and total bytes of the file system of path.
	statfs func(path string) (free, total uint64, err error)
	// storeOptions, if set, adjusts the options the store is opened with
	// (tests set its capacity thresholds).
	storeOptions func(*offline.Options)
	// readersBuilt, if set, is given the readers the selftest built, before
	// it waits for a tap (tests put a virtual card on a virtual reader).
	readersBuilt func([]reader.Reader)
}{now: time.Now, statfs: statfs}

// selftestFlags are the command line of one selftest and what it found.
type selftestFlags struct {
	config            string
	json, tap, relays bool
	timeout           time.Duration

	deadline, began time.Time
	quiet           *slog.Logger
	cfg             *config.Config
	facts           deviceFacts
}

// errSelftestFailed: at least one check failed; yktd exits 1.
var errSelftestFailed = errors.New("selftest: checks failed")

func runSelftest(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("selftest", stderr, func(w io.Writer) { fmt.Fprintln(w, selftestUsage) })
	var f selftestFlags
	fs.StringVar(&f.config, "config", defaultConfig, "the device configuration `FILE`")
	fs.BoolVar(&f.json, "json", false, "print one JSON object")
	fs.BoolVar(&f.tap, "tap", false, "wait for a card on a reader (alone only)")
	fs.BoolVar(&f.relays, "relays", false, "pulse every relay once (alone only: it moves the turnstile)")
	fs.DurationVar(&f.timeout, "timeout", 20*time.Second, "bound on the whole selftest")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("selftest takes no arguments, got %q", fs.Args())
	}
	if f.timeout <= 0 {
		return usageError("--timeout %s: want a positive duration", f.timeout)
	}
	ctx, stop := interruptContext(context.Background())
	defer stop()
	rep := f.run(ctx)
	var err error
	if f.json {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		names := []string{}
		for _, c := range rep.Checks {
			if c.Result == selftest.Fail {
				names = append(names, c.Name)
			}
		}
		return fmt.Errorf("%w: %d failed (%s)", errSelftestFailed, n, strings.Join(names, ", "))
	}
	return nil
}

// run runs every check within the timeout and returns the report.
func (f *selftestFlags) run(ctx context.Context) *selftest.Report {
	f.began = time.Now()
	rep := &selftest.Report{Version: version, Mode: selftest.Alone}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	f.deadline, _ = ctx.Deadline()
	f.quiet = slog.New(slog.DiscardHandler)
	defer func() { rep.Finish(time.Since(f.began)) }()

	cfg, err := config.Load(f.config)
	if err != nil {
		rep.Add(selftest.Failed("config", err.Error(),
			"fix the configuration file (docs/config.md), or name it with --config FILE",
			"配置文件无法读取或有错误：请按 docs/config.md 修正，或用 --config 指定配置文件"))
		return rep
	}
	f.cfg = cfg
	rep.Device, rep.Kind = cfg.Device.ID, cfg.Device.Kind
	rep.Add(f.configCheck())

	// The store first, and closed again at once: a daemon starting now
	// must not find it held.
	f.facts = f.gatherStore(ctx)
	rep.Mode = f.facts.mode
	rep.Add(f.daemonCheck())

	// The ledger is asked meanwhile: its answer bounds nothing else.
	probe := make(chan ledgerProbe, 1)
	go func() { probe <- f.probeLedger(ctx) }()

	rep.Add(f.hardwareChecks(ctx)...)
	rep.Add(f.storeChecks()...)
	var lp ledgerProbe
	select {
	case lp = <-probe:
	case <-ctx.Done():
		lp = ledgerProbe{answer: selftest.Unreachable, err: fmt.Errorf("no answer within --timeout %s", f.timeout)}
		if f.cfg.Sync.Ledger == "" {
			lp.answer = selftest.NoLedger
		}
	}
	rep.Add(f.ledgerChecks(lp)...)
	return rep
}

// configCheck checks what of the configuration can be checked without
// opening anything: the GPIO pins, the folders, the sync files.
func (f *selftestFlags) configCheck() selftest.Check {
	var errs []error
	errs = append(errs, checkPins(f.cfg)...)
	errs = append(errs, checkDirs(f.cfg)...)
	errs = append(errs, checkSync(f.cfg.Sync)...)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return selftest.Failed("config", fmt.Sprintf("%s does not fit this machine: %s", f.config, strings.Join(msgs, "; ")),
			"fix what is named (docs/config.md); `yktd board pins` lists the GPIO pins",
			"配置与本机不符（引脚、目录或证书文件）：请按提示修正配置")
	}
	return selftest.Passed("config", fmt.Sprintf("%s: device %s, %s; pins, folders and sync files fit this machine", f.config, f.cfg.Device.ID, f.cfg.Device.Kind),
		"配置文件正确，与本机相符")
}

// remaining is the time left before the deadline.
func (f *selftestFlags) remaining() time.Duration { return time.Until(f.deadline) }

// builtAt is the earliest date a correct clock can read: the latest of
// the stamped build date, the build's VCS time and the source's date.
func builtAt() time.Time {
	t, _ := time.Parse("2006-01-02", sourceDate)
	if b, err := time.Parse("2006-01-02", buildDate); err == nil && b.After(t) {
		t = b
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key != "vcs.time" {
				continue
			}
			if v, err := time.Parse(time.RFC3339, s.Value); err == nil && v.After(t) {
				t = v
			}
		}
	}
	return t
}

// isKind reports whether the device is one of kinds.
func (f *selftestFlags) isKind(kinds ...string) bool {
	for _, k := range kinds {
		if f.cfg.Device.Kind == k {
			return true
		}
	}
	return false
}
