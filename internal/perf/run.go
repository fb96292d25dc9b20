package perf

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/openykt/yktd/internal/pcscdtest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/pcsc"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

// Options configure a run.
type Options struct {
	Yktd, Ledgerd string // the binaries under test (static builds)
	ArmYktd       string // the linux/arm (GOARM=7) yktd, for its size
	Work          string // the run's directory (kept: logs, stores, ledgers)
	// Listed is how many cards the ledger lists and the device pulls over
	// HTTP; default protocol.MaxStatusEntries, the most a snapshot carries.
	Listed int
	// Total is the size of the device's status list; default 1,000,000.
	Total int
	// Taps on the 1M device; BaseTaps on the empty-list device (for its
	// memory); ProbeSales sales without yktd, of which ProbeTaps each a
	// tap of its own; Starts starts of each device for start-to-ready.
	Taps, BaseTaps, ProbeSales, ProbeTaps, Starts int
	// DelayedAck keeps the kernel's delayed ACK on the virtual cards'
	// sockets: about 44 ms a command (see quickAckConn).
	DelayedAck bool
	// Progress receives a line per step.
	Progress io.Writer
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Listed, protocol.MaxStatusEntries)
	def(&o.Total, 1_000_000)
	def(&o.Taps, 200)
	def(&o.BaseTaps, 40)
	def(&o.ProbeSales, o.Taps)
	def(&o.ProbeTaps, 20)
	def(&o.Starts, 5)
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// run is the state of one run.
type run struct {
	o       Options
	t0      time.Time
	logs    string
	keys    string // the issuer key file (the test keys) the ledgers check TACs with
	base    []byte // the demo POS configuration
	cleanup []func()
}

func (r *run) say(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, "perf: %6.1fs  %s\n", time.Since(r.t0).Seconds(), fmt.Sprintf(format, args...))
}

// ledgerProc is a serving ledgerd.
type ledgerProc struct {
	dir, url, fingerprint string
	proc                  *Proc
}

var servingRE = regexp.MustCompile(`ledgerd serving on (\S+)`)

// serveLedger starts `ledgerd serve` on dir, on a free loopback port.
func (r *run) serveLedger(ctx context.Context, name, dir string) (*ledgerProc, error) {
	fp, err := RunCmd(ctx, time.Minute, r.o.Ledgerd, "keys", "--data", dir, "--fingerprint")
	if err != nil {
		return nil, err
	}
	p, err := Start(name, r.logs, r.o.Ledgerd, "serve", "--data", dir, "--listen", "127.0.0.1:0", "--issuer-keys", r.keys)
	if err != nil {
		return nil, err
	}
	r.cleanup = append(r.cleanup, func() { _ = p.Stop(30 * time.Second) })
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	line, _, err := p.Out.Wait(wctx, 0, servingRE.MatchString)
	if err != nil {
		return nil, fmt.Errorf("perf: %s did not serve (%v, %s):\n%s", name, err, p.Exit(), p.Err.Tail(10))
	}
	return &ledgerProc{dir: dir, url: "http://" + servingRE.FindStringSubmatch(line.Text)[1] + "/",
		fingerprint: strings.TrimSpace(fp), proc: p}, nil
}

// newDevice writes a device's directory, SAM key file and configuration
// and makes its enrolment token.
func (r *run) newDevice(ctx context.Context, id string, l *ledgerProc) (*Device, string, error) {
	dir := filepath.Join(r.o.Work, "devices", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("perf: %w", err)
	}
	spec := DeviceSpec{ID: id, Dir: dir, SAMKeys: filepath.Join(dir, "sam-keys.json"), LedgerURL: l.url, LedgerKey: l.fingerprint}
	if err := os.WriteFile(spec.SAMKeys, sam.TestKeyFile, 0o600); err != nil {
		return nil, "", fmt.Errorf("perf: %w", err)
	}
	cfg, err := DeviceConfig(r.base, spec)
	if err != nil {
		return nil, "", err
	}
	d := &Device{Spec: spec, Bin: r.o.Yktd, Cfg: filepath.Join(r.o.Work, id+".toml"), Logs: r.logs}
	if err := os.WriteFile(d.Cfg, cfg, 0o600); err != nil {
		return nil, "", fmt.Errorf("perf: %w", err)
	}
	out, err := RunCmd(ctx, time.Minute, r.o.Ledgerd, "token", "new", "--data", l.dir, "--device", id, "--kind", "pos")
	if err != nil {
		return nil, "", err
	}
	token := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	r.cleanup = append(r.cleanup, func() { _ = d.Stop() })
	return d, token, nil
}

// issueCards writes the run's cards (test keys, 10,000.00 yuan each) and
// returns their state files.
func (r *run) issueCards() ([]string, error) {
	dir := filepath.Join(r.o.Work, "cards")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	today := time.Now().In(shanghai)
	var files []string
	for i := range SlotReaders {
		p := sim.Profile{CardNo: fmt.Sprintf("100120261207%08d", 9001+i), Issuer: sim.DemoIssuer, Class: 1,
			StatusListVersion: 1, Start: today.AddDate(0, 0, -90).Format("20060102"),
			Expiry: today.AddDate(3, 0, 0).Format("20060102"), Algorithm: epurse.AlgDES, KeyVersion: 1, KeyIndex: 1, PIN: "123456"}
		c, err := sim.NewCard(p, sam.TestKeys().Keys[1], cardBalance)
		if err != nil {
			return nil, fmt.Errorf("perf: card: %w", err)
		}
		f := filepath.Join(dir, fmt.Sprintf("perf-%d.json", i))
		if err := c.Save(f); err != nil {
			return nil, fmt.Errorf("perf: card: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

// cardBalance is each card's balance at issue, fen.
const cardBalance = 1_000_000

// startRuns starts d n times on its store, stopping it after each but the
// last, and returns the start-to-ready times.
func (r *run) startRuns(ctx context.Context, d *Device, n int, wantCards int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		dt, err := d.Start(ctx, "", Ready, time.Minute)
		if err != nil {
			return nil, err
		}
		out = append(out, dt)
		if i == 0 {
			h, err := d.Health(ctx)
			if err != nil {
				return nil, err
			}
			if h.StatusList.Cards != uint64(wantCards) {
				return nil, fmt.Errorf("perf: %s holds %d listed cards, want %d", d.Spec.ID, h.StatusList.Cards, wantCards)
			}
		}
		if i < n-1 {
			if err := d.Stop(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// checkTaps checks the daemon's own record of the last n taps: each paid
// Price.
func checkTaps(ctx context.Context, d *Device, n int) error {
	taps, err := d.Ctl.Taps(ctx, 0, 0)
	if err != nil {
		return fmt.Errorf("perf: %s taps: %w", d.Spec.ID, err)
	}
	want := min(n, 256) // the daemon keeps the last 256
	if len(taps) != want {
		return fmt.Errorf("perf: %s recorded %d taps, want %d", d.Spec.ID, len(taps), want)
	}
	for _, t := range taps {
		if t.Outcome != "paid" || t.Amount != Price {
			return fmt.Errorf("perf: %s tap %d: %s %s amount %d", d.Spec.ID, t.N, t.Outcome, t.Code, t.Amount)
		}
	}
	return nil
}

// Run measures everything and returns the report. It takes pcscd's rig
// lock only for the steps that use pcscd (the devices and the probe).
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	o.defaults()
	r := &run{o: o, t0: time.Now(), logs: filepath.Join(o.Work, "logs"), keys: filepath.Join(o.Work, "issuer-keys.json")}
	defer func() {
		for _, f := range slices.Backward(r.cleanup) {
			f()
		}
	}()
	if err := os.MkdirAll(r.logs, 0o700); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	if err := os.WriteFile(r.keys, sam.TestKeyFile, 0o600); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	fi, err := os.Stat(o.ArmYktd)
	if err != nil {
		return nil, fmt.Errorf("perf: the linux/arm binary: %w", err)
	}
	armSize := fi.Size()
	baseCfg, err := RunCmd(ctx, time.Minute, o.Yktd, "run", "--sim", "--kind", "pos", "--print-config")
	if err != nil {
		return nil, err
	}
	r.base = []byte(baseCfg)

	// The ledgers: one listing o.Listed cards, seeded in this process;
	// one with the empty first list, for the baseline device.
	bigDir, emptyDir := filepath.Join(o.Work, "ledger-listed"), filepath.Join(o.Work, "ledger-empty")
	for _, dir := range []string{bigDir, emptyDir} {
		if _, err := RunCmd(ctx, time.Minute, o.Ledgerd, "init", "--data", dir); err != nil {
			return nil, err
		}
	}
	r.say("seeding the ledger with %d listed cards (package ledger, in-process)", o.Listed)
	t := time.Now()
	if _, err := SeedLedger(bigDir, 0, o.Listed, 100_000); err != nil {
		return nil, err
	}
	seedTime := time.Since(t)
	big, err := r.serveLedger(ctx, "ledger-listed", bigDir)
	if err != nil {
		return nil, err
	}
	empty, err := r.serveLedger(ctx, "ledger-empty", emptyDir)
	if err != nil {
		return nil, err
	}
	cardFiles, err := r.issueCards()
	if err != nil {
		return nil, err
	}

	r.say("taking the pcscd rig lock %s", pcscdtest.LockPath)
	rig, err := pcscdtest.Setup(func(ctx context.Context) ([]string, error) {
		rs, err := pcsc.ListReaders(ctx, pcsc.Options{Backend: pcsc.Pure})
		names := make([]string, len(rs))
		for i, x := range rs {
			names[i] = x.Name
		}
		return names, err
	})
	if err != nil {
		return nil, fmt.Errorf("perf: pcscd and vpcd: %w", err)
	}
	r.cleanup = append(r.cleanup, rig.Close)
	host, err := NewCardHost(SlotAddrs, cardFiles, !o.DelayedAck)
	if err != nil {
		return nil, err
	}
	r.cleanup = append(r.cleanup, host.Close)

	// The baseline: the same daemon on a store with the empty list.
	base, token, err := r.newDevice(ctx, "PERF-POS-EMPTY", empty)
	if err != nil {
		return nil, err
	}
	r.say("%s: enrolling, pulling the empty list", base.Spec.ID)
	if _, err := base.Start(ctx, token, Ready, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := base.Stop(); err != nil {
		return nil, err
	}
	r.say("%s: %d starts", base.Spec.ID, o.Starts)
	baseReady, err := r.startRuns(ctx, base, o.Starts, 0)
	if err != nil {
		return nil, err
	}
	r.say("%s: %d taps", base.Spec.ID, o.BaseTaps)
	baseLoad, err := TapLoad(ctx, base, host, o.BaseTaps)
	if err != nil {
		return nil, err
	}
	if err := checkTaps(ctx, base, o.BaseTaps); err != nil {
		return nil, err
	}
	if err := base.Stop(); err != nil {
		return nil, err
	}

	// The device under test: enrolled, the ledger's list pulled over
	// HTTP, then topped up to o.Total.
	dev, token, err := r.newDevice(ctx, "PERF-POS-1M", big)
	if err != nil {
		return nil, err
	}
	r.say("%s: enrolling, pulling %d listed cards over HTTP", dev.Spec.ID, o.Listed)
	pullTime, err := dev.Start(ctx, token, func(h terminal.Health) bool { return h.Working && h.StatusList.Cards == uint64(o.Listed) }, 3*time.Minute)
	if err != nil {
		return nil, err
	}
	if err := dev.Stop(); err != nil {
		return nil, err
	}
	var topTime time.Duration
	if o.Total > o.Listed {
		r.say("%s: topping the store up to %d (offline ApplySnapshot, in-process)", dev.Spec.ID, o.Total)
		t = time.Now()
		info, err := TopUpStore(dev.Spec.Store(), dev.Spec.ID, o.Total)
		if err != nil {
			return nil, err
		}
		topTime = time.Since(t)
		if info.Count != uint64(o.Total) {
			return nil, fmt.Errorf("perf: topped up to %d, want %d", info.Count, o.Total)
		}
	}
	r.say("%s: %d starts", dev.Spec.ID, o.Starts)
	ready, err := r.startRuns(ctx, dev, o.Starts, max(o.Total, o.Listed))
	if err != nil {
		return nil, err
	}
	r.say("%s: %d taps", dev.Spec.ID, o.Taps)
	load, err := TapLoad(ctx, dev, host, o.Taps)
	if err != nil {
		return nil, err
	}
	if err := checkTaps(ctx, dev, o.Taps); err != nil {
		return nil, err
	}
	if err := dev.Stop(); err != nil {
		return nil, err
	}

	r.say("card-only probe: %d sales (%d taps) over PC/SC, no yktd", o.ProbeSales, o.ProbeTaps)
	probe, err := Probe(ctx, host, o.ProbeTaps, o.ProbeSales)
	if err != nil {
		return nil, err
	}
	var left uint64
	for i := range SlotReaders {
		left += uint64(host.Balance(i))
	}
	sales := o.BaseTaps + o.Taps + o.ProbeSales
	if want := uint64(len(SlotReaders))*cardBalance - uint64(sales)*Price; left != want {
		return nil, fmt.Errorf("perf: the cards hold %d fen after %d sales, want %d", left, sales, want)
	}
	r.say("done; cards charged exactly %d sales", sales)
	return r.report(measured{armSize: armSize, seed: seedTime, pull: pullTime, topUp: topTime,
		ready: ready, baseReady: baseReady, load: load, baseLoad: baseLoad, probe: probe}), nil
}

// measured is everything a run measured.
type measured struct {
	armSize           int64
	seed, pull, topUp time.Duration
	ready, baseReady  []time.Duration
	load, baseLoad    LoadResult
	probe             ProbeResult
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mbOf(kib uint64) float64      { return float64(kib) * 1024 / 1e6 }

// report makes the table's rows.
func (r *run) report(m measured) *Report {
	o := r.o
	tap, ptap := Summarize(m.load.TapToDisplay), Summarize(m.probe.TapToDone)
	apdu, sale := Summarize(m.load.APDUToDisplay), Summarize(m.probe.Sale)
	det, pdet := Summarize(m.load.Detect), Summarize(m.probe.Detect)
	ready, bready := Summarize(m.ready), Summarize(m.baseReady)
	card, debit := Summarize(m.load.CardTime), Summarize(m.load.DebitToDisplay)
	list := listName(max(o.Total, o.Listed))
	rows := []Row{
		{Key: "arm_size", Name: "yktd linux/arm (GOARM=7) static binary", Unit: "MB", Value: float64(m.armSize) / 1e6, Budget: F(20)},
		{Key: "rss_1m", Name: fmt.Sprintf("resident memory under %d taps, %s (VmRSS, max)", o.Taps, list), Unit: "MB",
			Value: mbOf(m.load.Peak.RSS), Budget: F(40), Baseline: F(mbOf(m.baseLoad.Peak.RSS)), BaselineName: fmt.Sprintf("empty list, %d taps", o.BaseTaps)},
		{Key: "rss_1m_anon", Name: "  of which anonymous (heap, stacks; RssAnon)", Unit: "MB",
			Value: mbOf(m.load.Peak.Anon), Baseline: F(mbOf(m.baseLoad.Peak.Anon)), BaselineName: "empty list"},
		{Key: "rss_1m_file", Name: "  of which file pages (the binary, the store's mmap; RssFile)", Unit: "MB",
			Value: mbOf(m.load.Peak.File), Baseline: F(mbOf(m.baseLoad.Peak.File)), BaselineName: "empty list"},
		{Key: "hwm_1m", Name: fmt.Sprintf("peak resident memory since the start, %s (VmHWM)", list), Unit: "MB",
			Value: mbOf(m.load.End.HWM), Budget: F(40), Baseline: F(mbOf(m.baseLoad.End.HWM)), BaselineName: "empty list"},
		{Key: "ready_1m", Name: fmt.Sprintf("start to ready, %s (exec -> /v1/health working; median of %d)", list, ready.N), Unit: "ms",
			Value: msOf(ready.P50), Budget: F(200), Baseline: F(msOf(bready.P50)), BaselineName: "empty list"},
		{Key: "ready_1m_max", Name: fmt.Sprintf("start to ready, %s, slowest of %d", list, ready.N), Unit: "ms",
			Value: msOf(ready.Max), Budget: F(200), Baseline: F(msOf(bready.Max)), BaselineName: "empty list"},
		{Key: "tap_display_p50", Name: fmt.Sprintf("tap -> display through pcscd + vpcd, p50 (n %d)", tap.N), Unit: "ms",
			Value: msOf(tap.P50), Baseline: F(msOf(ptap.P50)), BaselineName: "tap -> sale done, no yktd"},
		{Key: "tap_display_p99", Name: "tap -> display through pcscd + vpcd, p99", Unit: "ms",
			Value: msOf(tap.P99), Baseline: F(msOf(ptap.P99)), BaselineName: "tap -> sale done, no yktd"},
		{Key: "detect_p50", Name: "  of which tap -> card's first APDU (vpcd poll, pcscd, connect), p50", Unit: "ms",
			Value: msOf(det.P50), Baseline: F(msOf(pdet.P50)), BaselineName: "the same, no yktd"},
		{Key: "apdu_display_p50", Name: "  card's first APDU -> display, p50", Unit: "ms",
			Value: msOf(apdu.P50), Baseline: F(msOf(sale.P50)), BaselineName: "card time: the sale's APDUs, no yktd"},
		{Key: "apdu_display_p99", Name: "  card's first APDU -> display, p99", Unit: "ms",
			Value: msOf(apdu.P99), Baseline: F(msOf(sale.P99)), BaselineName: "card time, no yktd"},
		{Key: "debit_display_p50", Name: "  card answered DEBIT -> display, p50", Unit: "ms", Value: msOf(debit.P50)},
		{Key: "card_inside_p50", Name: "  the card's own processing of the sale's commands, p50", Unit: "ms", Value: msOf(card.P50)},
		{Key: "overhead_p50", Name: "sale's software overhead beyond the card's APDU time (first APDU->display p50 - card time p50)", Unit: "ms",
			Value: msOf(apdu.P50 - sale.P50), Baseline: F(msOf(sale.P50)), BaselineName: "card time"},
		{Key: "overhead_tap_p50", Name: "  the same from the tap, vpcd's poll included (tap->display p50 - card time p50)", Unit: "ms",
			Value: msOf(tap.P50 - sale.P50), Baseline: F(msOf(sale.P50)), BaselineName: "card time"},
		{Key: "seed_ledger", Name: fmt.Sprintf("setup: ledger seeded with %d listed cards (package ledger)", o.Listed), Unit: "s", Value: m.seed.Seconds()},
		{Key: "pull", Name: fmt.Sprintf("setup: enrol + %d-entry list over HTTP (exec -> health shows it)", o.Listed), Unit: "s", Value: m.pull.Seconds()},
	}
	if o.Total > o.Listed {
		rows = append(rows, Row{Key: "top_up", Name: fmt.Sprintf("setup: store topped up to %d in-process (offline ApplySnapshot)", o.Total), Unit: "s", Value: m.topUp.Seconds()})
	}
	rows = append(rows, Row{Key: "run", Name: "the whole run (builds not included)", Unit: "s", Value: time.Since(r.t0).Seconds()})
	notes := []string{
		fmt.Sprintf("the wire protocol carries at most %d status entries (protocol.MaxStatusEntries, %d MiB a snapshot) and the ledger lists no more: the %d-entry store is the ledger's %d pulled over HTTP plus the rest applied in-process at the same version",
			protocol.MaxStatusEntries, protocol.MaxStatusSize>>20, max(o.Total, o.Listed), o.Listed),
		"pcscd finds a card on a vpcd slot by polling (about every 400 ms): tap -> first APDU is that poll, not yktd (a USB CCID reader signals insertions instead)",
		"card time: the same commands (FF CA, SELECT, READ BINARY, GET BALANCE, INITIALIZE, DEBIT) to the same cards over the same pcscd by reader/pcsc + reader/epurse, no yktd",
	}
	if o.DelayedAck {
		notes = append(notes, "-vpcd-delayed-ack: the virtual cards' sockets delay their ACKs, so every command waits about 44 ms for vpcd's Nagle")
	} else {
		notes = append(notes, "the virtual cards ACK vpcd's frames at once (TCP_QUICKACK): with the kernel's delayed ACK every command waits about 44 ms (-vpcd-delayed-ack)")
	}
	if di, pi := debitPrefix(m.load.INS), debitPrefix(m.probe.INS); string(di) != string(pi) {
		notes = append(notes, fmt.Sprintf("the APDUs differ: yktd sent % X, the probe % X", di, pi))
	} else {
		notes = append(notes, fmt.Sprintf("same APDUs (INS % X) from yktd and from the probe", di))
	}
	return &Report{Version: ReportVersion, Time: time.Now().UTC(), Rows: rows, Notes: notes, Duration: time.Since(r.t0).Seconds(),
		Host: Host{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kernel: kernel(), StatusMax: protocol.MaxStatusEntries}}
}

// listName names a list of n entries for the table ("1M-entry list").
func listName(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM-entry list", n/1_000_000)
	case n%1000 == 0:
		return fmt.Sprintf("%dk-entry list", n/1000)
	}
	return fmt.Sprintf("%d-entry list", n)
}

// debitPrefix is ins up to and including DEBIT's.
func debitPrefix(ins []byte) []byte {
	if i := slices.Index(ins, insDebit); i >= 0 {
		return ins[:i+1]
	}
	return ins
}

// kernel is the running kernel's release, or "".
func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
