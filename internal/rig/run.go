package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openykt/yktd/reader/sim"
)

// Options configure Run.
type Options struct {
	// Yktd and Ledgerd are the binaries under test.
	Yktd, Ledgerd string
	// Parallel is how many scenarios run at once (default 1).
	Parallel int
	// WorkDir holds each scenario's directory (default os.TempDir()).
	WorkDir string
	// Keep keeps the directories of passed scenarios too (failed ones
	// are always kept).
	Keep bool
	// RunPending runs pending scenarios and steps whose actions exist
	// (the lead's check after merging what they wait for); todo steps
	// still cannot run.
	RunPending bool
	// PCSCD allows devices on virtual cards behind the machine's pcscd
	// (reader = "vcard"); the runner takes the machine-wide rig lock.
	PCSCD bool
	// Progress, if set, gets a line as each scenario ends.
	Progress io.Writer
}

// Run parses every file, then runs the scenarios (Parallel at a time).
// A file that does not parse is a failed result; the error is only for
// what stops the whole run (no binaries).
func Run(ctx context.Context, files []string, opts Options) (*Summary, error) {
	for _, b := range []string{opts.Yktd, opts.Ledgerd} {
		if st, err := os.Stat(b); err != nil || st.IsDir() {
			return nil, fmt.Errorf("rig: binary %q: %v", b, err)
		}
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 1
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	start := time.Now()
	sum := &Summary{Results: make([]*Result, len(files))}
	bases := &baseConfigs{bin: opts.Yktd}
	var lock *pcscdLock
	defer func() {
		if lock != nil {
			lock.release()
		}
	}()
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	var pmu sync.Mutex
	for i, f := range files {
		sc, err := Load(f)
		if err != nil {
			sum.Results[i] = &Result{File: f, Name: strings.TrimSuffix(filepath.Base(f), ".toml"), Status: StatusFailed, Failure: err.Error()}
			continue
		}
		if sc.usesVCard() && !opts.PCSCD {
			sum.Results[i] = &Result{File: f, Name: sc.Name, Rule: sc.Rule, Status: StatusFailed,
				Failure: "a device with reader = \"vcard\" needs --pcscd (the machine's pcscd and vpcd, under " + pcscdLockPath + ")"}
			continue
		}
		if sc.usesVCard() && lock == nil {
			if lock, err = takePCSCDLock(ctx); err != nil {
				return nil, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				sum.Results[i] = &Result{File: f, Name: sc.Name, Status: StatusFailed, Failure: ctx.Err().Error()}
				return
			}
			defer func() { <-sem }()
			r := runScenario(ctx, sc, opts, bases)
			sum.Results[i] = r
			if opts.Progress != nil {
				pmu.Lock()
				fmt.Fprintf(opts.Progress, "%s %s (%.1fs)\n", r.Status, r.Name, r.Duration.Seconds())
				pmu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, r := range sum.Results {
		switch {
		case r.Status == StatusPassed:
			sum.Passed++
			if len(r.Pending) > 0 {
				sum.Partial++
			}
		case r.Status == StatusPending:
			sum.Pending++
		default:
			sum.Failed++
		}
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

func (sc *Scenario) usesVCard() bool {
	for _, d := range sc.Devices {
		if d.Reader == ReaderVCard {
			return true
		}
	}
	return false
}

// scenarioRun is one scenario being run.
type scenarioRun struct {
	sc    *Scenario
	opts  Options
	bases *baseConfigs
	dir   string
	cards string // the shared cards folder
	logs  string
	tl    *timeline

	ledger  *ledgerProc
	devices map[string]*device
	order   []*device
	// versions counts the changes of each card's state file as the
	// runner knows them: a device holding an older version reloads it
	// before the card is used there (a card carried between terminals).
	versions map[string]int
	cardNos  map[string]string
	tokens   map[string]string

	// lastCmd is the last ledgerd command of a step, for expect.exit and
	// expect.output.
	lastCmd *cmdResult
	// lastCtl is the answer of the last control step, for expect.status
	// and expect.response.
	lastCtl *ctlResult
}

type cmdResult struct {
	stdout, stderr string
	code           int
}

// runScenario runs one scenario in its own directory and reports it.
func runScenario(ctx context.Context, sc *Scenario, opts Options, bases *baseConfigs) *Result {
	res := &Result{File: sc.File, Name: sc.Name, Rule: sc.Rule}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if sc.Pending != nil {
		res.Pending = []PendingPart{{Issue: sc.Pending.Issue, Why: sc.Pending.Why, Steps: []string{"the whole scenario"}}}
		if !opts.RunPending {
			res.Status = StatusPending
			return res
		}
	}
	ctx, cancel := context.WithTimeout(ctx, sc.Timeout.D())
	defer cancel()
	// Short: the ledger's admin socket is a unix socket in it, and their
	// paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp(opts.WorkDir, "rig-"+safeName(sc.Name)+"-")
	if err == nil && len(dir) > 70 {
		_ = os.Remove(dir)
		dir, err = os.MkdirTemp("", "rig-")
	}
	if err != nil {
		res.Status, res.Failure = StatusFailed, err.Error()
		return res
	}
	r := &scenarioRun{sc: sc, opts: opts, bases: bases, dir: dir, cards: filepath.Join(dir, "cards"), logs: filepath.Join(dir, "logs"),
		tl: &timeline{start: start}, devices: map[string]*device{}, versions: map[string]int{}, cardNos: map[string]string{},
		tokens: map[string]string{}}
	err = r.run(ctx, res)
	r.shutdown()
	res.Events = r.tl.events()
	res.Logs = r.tails()
	switch {
	case err != nil:
		res.Status, res.Failure = StatusFailed, err.Error()
		res.Dir = dir
	default:
		res.Status = StatusPassed
		if opts.Keep {
			res.Dir = dir
		} else {
			_ = os.RemoveAll(dir)
		}
	}
	return res
}

func safeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 12 {
			break
		}
	}
	return b.String()
}

// run sets the scenario up and runs its steps; the first failure ends it.
func (r *scenarioRun) run(ctx context.Context, res *Result) error {
	for _, d := range []string{r.cards, r.logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("rig: %w", err)
		}
	}
	if err := r.setup(ctx); err != nil {
		r.tl.add("FAIL", "setup: %v", err)
		return fmt.Errorf("setup: %w", err)
	}
	pend := map[int]*PendingPart{}
	var issues []int
	for i := range r.sc.Steps {
		s := &r.sc.Steps[i]
		label := fmt.Sprintf("step %d", i+1)
		if s.Line > 0 {
			label += fmt.Sprintf(" (line %d)", s.Line)
		}
		if s.Pending != nil && (s.Todo != "" || !r.opts.RunPending) {
			what := s.Todo
			if what == "" {
				what = s.describe()
			}
			p := pend[s.Pending.Issue]
			if p == nil {
				p = &PendingPart{Issue: s.Pending.Issue, Why: s.Pending.Why}
				pend[s.Pending.Issue] = p
				issues = append(issues, s.Pending.Issue)
			}
			if p.Why == "" {
				p.Why = s.Pending.Why
			}
			p.Steps = append(p.Steps, label+": "+what)
			r.tl.add("pending", "%s: issue %d: %s", label, s.Pending.Issue, what)
			continue
		}
		r.tl.add("step", "%s: %s", label, s.describe())
		res.Steps++
		if err := r.act(ctx, s); err != nil {
			r.tl.add("FAIL", "%s: %v", label, err)
			return fmt.Errorf("%s: %s: %w", label, s.describe(), err)
		}
		if err := r.expectAll(ctx, s); err != nil {
			r.tl.add("FAIL", "%s: %v", label, err)
			return fmt.Errorf("%s: %w", label, err)
		}
	}
	sort.Ints(issues)
	for _, n := range issues {
		res.Pending = append(res.Pending, *pend[n])
	}
	return nil
}

// setup issues the cards, starts the ledger (with the status list and
// rules the scenario declares) and the devices that start at once.
func (r *scenarioRun) setup(ctx context.Context) error {
	now := time.Now()
	for i := range r.sc.Cards {
		c := &r.sc.Cards[i]
		if err := issueCard(r.cards, c, now); err != nil {
			return err
		}
		r.cardNos[c.Name] = c.No
		r.versions[c.Name] = 1
	}
	// The simulator issues the demo cards it misses into its cards folder;
	// devices that share one would race at that: issue them first.
	for _, demo := range sim.Catalogue() {
		if _, ok := r.cardNos[demo.Name]; ok {
			continue // the scenario's card of that name wins
		}
		c, err := demo.Issue()
		if err == nil {
			err = c.Save(filepath.Join(r.cards, demo.Name+".json"))
		}
		if err != nil {
			return fmt.Errorf("rig: demo card %s: %w", demo.Name, err)
		}
	}
	r.tl.add("info", "%d cards issued in %s", len(r.sc.Cards), r.cards)
	if r.sc.Ledger != nil {
		l, err := initLedger(ctx, r.opts.Ledgerd, r.dir, r.logs)
		if err != nil {
			return err
		}
		r.ledger = l
		l.onStart = func(addr string) {
			for _, d := range r.order {
				if d.proxy != nil {
					d.proxy.setUpstream(addr)
				}
			}
		}
		if err := l.start(ctx); err != nil {
			return err
		}
		r.tl.add("info", "ledger serving on %s (data %s)", l.addr, l.dir)
		for _, c := range r.sc.Cards {
			if c.Listed != "" {
				if _, err := l.must(ctx, "status add", c.No, c.Listed); err != nil {
					return err
				}
				r.tl.add("info", "card %s (%s) listed %s at the ledger", c.Name, c.No, c.Listed)
			}
		}
		for i := range r.sc.Cards {
			c := &r.sc.Cards[i]
			if c.Account == "" {
				continue
			}
			if err := l.addAccount(ctx, c); err != nil {
				return err
			}
			what := "PIN"
			if c.NationalID != "" {
				what = "PIN and ID number"
			}
			r.tl.add("info", "card %s: account %s at the ledger (%s set, state %s)", c.Name, c.Account, what, orDefault(c.Listed, "normal"))
		}
		if r.sc.Ledger.Rules != nil {
			if err := r.setRules(ctx); err != nil {
				return err
			}
		}
	}
	for i := range r.sc.Devices {
		d, err := r.newDevice(ctx, &r.sc.Devices[i])
		if err != nil {
			return fmt.Errorf("device %s: %w", r.sc.Devices[i].Name, err)
		}
		r.devices[d.spec.Name] = d
		r.order = append(r.order, d)
	}
	// Tokens first (a device may enrol with another's), then the starts,
	// all at once.
	for _, d := range r.order {
		if err := r.enrolment(ctx, d); err != nil {
			return fmt.Errorf("device %s: %w", d.spec.Name, err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(r.order))
	for i, d := range r.order {
		if d.spec.Start != nil && !*d.spec.Start {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.startDevice(ctx, d)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// setRules gives the ledger the scenario's rules as its first version.
func (r *scenarioRun) setRules(ctx context.Context) error {
	v, err := r.expandAny(r.sc.Ledger.Rules)
	if err != nil {
		return fmt.Errorf("ledger.rules: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("ledger.rules: %w", err)
	}
	path := filepath.Join(r.dir, "rules.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	out, err := r.ledger.must(ctx, "rules set", path)
	if err != nil {
		return err
	}
	r.tl.add("info", "ledger rules: %s", strings.TrimSpace(out))
	return nil
}

// newDevice prepares a device: its directory (its cards folder is the
// scenario's), its network proxy and its configuration.
func (r *scenarioRun) newDevice(ctx context.Context, spec *DeviceSpec) (*device, error) {
	d := &device{spec: spec, bin: r.opts.Yktd, dir: filepath.Join(r.dir, "devices", spec.Name), logs: r.logs}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	if err := os.Symlink(r.cards, filepath.Join(d.dir, "cards")); err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	dc := devConfig{id: spec.ID, dataDir: d.dir, vcard: spec.Reader == ReaderVCard}
	if *spec.Ledger {
		p, err := newProxy()
		if err != nil {
			return nil, err
		}
		d.proxy = p
		p.setUpstream(r.ledger.addr)
		dc.ledgerURL = "http://" + p.addr() + "/"
		fp, err := r.ledger.fingerprint(ctx)
		if err != nil {
			return nil, err
		}
		dc.ledgerKey = fp
	}
	if dc.vcard {
		if err := r.prepareVCard(d, &dc); err != nil {
			return nil, err
		}
	}
	base, err := r.bases.get(ctx, spec.Kind)
	if err != nil {
		return nil, err
	}
	cfg, err := buildConfig(base, spec.Config, dc)
	if err != nil {
		return nil, err
	}
	if d.readers, err = readerNames(cfg); err != nil {
		return nil, err
	}
	d.cfgPath = filepath.Join(r.dir, spec.Name+".toml")
	if err := os.WriteFile(d.cfgPath, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	return d, nil
}

// enrolment gets the device's token: a new one from the ledger, another
// device's, a literal one, or none.
func (r *scenarioRun) enrolment(ctx context.Context, d *device) error {
	switch e := d.spec.Enrol; {
	case e == EnrolNone:
	case e == EnrolToken:
		out, err := r.ledger.must(ctx, "token new", "--device", d.spec.ID, "--kind", d.spec.Kind)
		if err != nil {
			return err
		}
		d.token = strings.TrimSpace(out)
		r.tokens[d.spec.Name] = d.token
	default:
		if strings.HasPrefix(e, "{token.") {
			return nil // after the others (resolved at start)
		}
		d.token = e
	}
	return nil
}

// startDevice starts (or starts again) a device and its vcard.
func (r *scenarioRun) startDevice(ctx context.Context, d *device) error {
	if strings.HasPrefix(d.spec.Enrol, "{token.") && d.token == "" {
		t, err := r.expand(d.spec.Enrol)
		if err != nil {
			return err
		}
		d.token = t
	}
	if d.spec.Reader == ReaderVCard {
		if err := r.startVCard(ctx, d); err != nil {
			return err
		}
	}
	if err := d.start(ctx, r.versions); err != nil {
		return err
	}
	if d.running() {
		r.tl.add("info", "%s started (run %d, device %s, control %s)", d.spec.Name, d.runs, d.spec.ID, d.ctl.URL("/"))
	} else {
		r.tl.add("info", "%s ended at its start: %s", d.spec.Name, d.proc.exitText())
	}
	return nil
}

// shutdown stops every process of the scenario.
func (r *scenarioRun) shutdown() {
	var wg sync.WaitGroup
	for _, d := range r.order {
		wg.Add(1)
		go func() { defer wg.Done(); d.shutdown() }()
	}
	wg.Wait()
	if r.ledger != nil && r.ledger.proc != nil {
		r.ledger.proc.stop(15 * time.Second)
	}
}

// tails collects the end of every process's output, every run.
func (r *scenarioRun) tails() []LogTail {
	var out []LogTail
	files, _ := filepath.Glob(filepath.Join(r.logs, "*"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		out = append(out, LogTail{Name: filepath.Base(f), Text: lastLines(string(b), 25)})
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
