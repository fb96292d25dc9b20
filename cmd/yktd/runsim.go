package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/ui"
)

//go:embed simconfig/*.toml
var simConfigs embed.FS

// simControlPause is how long a request of the control interface that
// drives a card (/sim/...) keeps the auto-tapper from tapping.
var simControlPause = 30 * time.Second

// simCards are the demo cards the simulator taps, in rotation.
var simCards = []string{"student", "lost", "low", "staff", "expired"}

// runSim runs the daemon on the simulator (yktd run --sim): its console on
// in and stdout, its log on stderr.
func runSim(ctx context.Context, f runFlags, in *consoleInput, stdout, stderr io.Writer) error {
	raw, err := simConfigs.ReadFile("simconfig/" + f.kind + ".toml")
	if f.config != "" { // the rig's configuration instead of the demo's (simrig.go)
		raw, err = os.ReadFile(f.config)
	}
	if err != nil {
		return err
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		return fmt.Errorf("simulator configuration: %w", err)
	}
	temporary := f.dir == ""
	if temporary {
		if f.dir, err = os.MkdirTemp("", "yktd-sim-"); err != nil {
			return err
		}
		// Runs last, after the store and the ledger are closed.
		defer os.RemoveAll(f.dir)
	}
	if f.dir, err = filepath.Abs(f.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(f.dir, "cards"), 0o700); err != nil {
		return err
	}
	cfg.Device.DataDir = f.dir
	cfg.Device.Store = filepath.Join(f.dir, "yktd.db")
	if f.control != "" {
		cfg.Control.Listen = f.control
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Device, stderr)
	plan, err := planStore(cfg.Device.Store, f.dir, f.newStore)
	if err != nil {
		return err
	}
	env := &simEnv{cfg: cfg, dir: f.dir, log: log, out: stdout, in: in}
	if err := env.clock.load(f.dir); err != nil {
		return err
	}
	opts := storeOptions(cfg)
	opts.Clock = &env.clock // the simulator's clock, which the rig steps
	store, err := plan.open(opts, log)
	if err != nil {
		return err
	}
	env.store = store
	d, err := env.build(ctx, f)
	if err != nil {
		env.close()
		return err
	}
	defer env.close()
	fmt.Fprintf(stdout, "yktd run --sim: %s %s, store %s\n", cfg.Device.Kind, cfg.Device.ID, cfg.Device.Store)
	if temporary {
		fmt.Fprintf(stdout, "(a temporary folder, removed at the end; --dir DIR keeps the store, the cards and the ledger)\n")
	}
	if addr := d.ControlAddr(); addr != "" {
		if filepath.IsAbs(addr) {
			fmt.Fprintf(stdout, "control: unix:%s (curl --unix-socket %[1]s http://localhost/)\n", addr)
		} else {
			fmt.Fprintf(stdout, "control: http://%s/\n", addr)
		}
		if tok := d.ControlTokenPath(); tok != "" {
			fmt.Fprintf(stdout, "control token: %s (send it as Authorization: Bearer; see docs/control.md)\n", tok)
		}
		addrFile := filepath.Join(f.dir, "control.addr")
		if err := writeFile0600(addrFile, []byte(addr+"\n")); err != nil {
			return fmt.Errorf("control address: %w", err)
		}
		defer os.Remove(addrFile) // no stale address for the next tool

	}
	if env.ledgerURL != "" {
		fmt.Fprintf(stdout, "ledger: %s (data %s)\n", env.ledgerURL, filepath.Join(f.dir, "ledger"))
	}
	fmt.Fprintf(stdout, "cards: %s (a number or a name and Enter taps that card; Enter alone the next; Ctrl-C stops)\n", simCardList())

	tctx, stopTapper := context.WithCancel(ctx)
	defer stopTapper()
	if f.config == "" && (f.auto > 0 || runEnv.stdin != nil) { // the rig drives a --config simulator
		go env.tapper(tctx, d, f.auto)
	}
	f.trial.watch(d)
	return d.Run(ctx)
}

// simEnv is the simulated world around the daemon.
type simEnv struct {
	cfg   *config.Config
	dir   string
	log   *slog.Logger
	out   io.Writer
	in    *consoleInput
	store *offline.Store
	simRig

	// lastControl is when the control interface last drove a card (Unix
	// nanoseconds): the auto-tapper keeps off the reader for
	// simControlPause after it.
	lastControl atomic.Int64

	rdr     *sim.Reader
	cards   map[string]*sim.Card
	pins    *boardtest.Pins
	spec    board.Spec
	console *ui.Console

	ledger    *ledger.Ledger
	ledgerSrv *http.Server
	ledgerURL string
}

func (e *simEnv) build(ctx context.Context, f runFlags) (*terminal.Daemon, error) {
	deps := terminal.DaemonDeps{Store: e.store, Logger: e.log, VerifyQR: protocol.VerifyQRToken, Now: e.clock.Now, Version: version}

	// The software SAM with the test keys and the device's own terminal
	// id (the ledger binds one PSAM to one device); its terminal sequence
	// persists.
	kf := sam.TestKeysFor(e.cfg.Device.ID)
	kf.SequenceFile = filepath.Join(e.dir, "sam.seq")
	s, err := sam.NewSoftware(kf)
	if err != nil {
		return nil, fmt.Errorf("software SAM: %w", err)
	}
	deps.SAM = s

	// The demo cards, each persisted like a card's EEPROM in dir/cards.
	e.rdr = sim.NewReader(e.cfg.Readers[0].Name, reader.TechISO14443A)
	ctl := sim.NewControl()
	ctl.AddReader(e.rdr)
	e.cards = map[string]*sim.Card{}
	for _, name := range simCards {
		path := filepath.Join(e.dir, "cards", name+".json")
		c, err := sim.LoadCard(path)
		if errors.Is(err, os.ErrNotExist) {
			c, err = loadOrIssue(path, name)
		}
		if err != nil {
			return nil, err
		}
		e.cards[name] = c
		ctl.AddCard(name, c)
	}
	e.extra = map[string]*sim.Card{}
	if err := e.loadExtraCards(ctl); err != nil {
		return nil, err
	}
	deps.Readers = []reader.Reader{e.rdr}
	sh := e.simHandler(ctl)
	deps.Control = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			sh.ServeHTTP(w, r)
			return
		}
		e.lastControl.Store(time.Now().UnixNano())
		sh.ServeHTTP(w, r)
		e.lastControl.Store(time.Now().UnixNano())
	})

	// A simulated board on the wall clock.
	e.spec = boardtest.FillPins(boardSpec(e.cfg.Board))
	e.pins = boardtest.NewPins(board.SystemClock{})
	if deps.Board, err = board.New(e.spec, board.Options{Pins: e.pins, Logger: e.log}); err != nil {
		return nil, err
	}
	deps.Inputs = e
	deps.Buzzer = buzzerOf(deps.Board, e.cfg.Board)

	e.console = ui.NewConsole(e.in, e.out)
	deps.Display, deps.Keypad = e.console, entryKeypad{Keypad: e.console, in: e.in}

	if f.noLedger {
		if err := e.localStatusList(); err != nil {
			return nil, err
		}
	} else if f.config != "" && e.cfg.Sync.Ledger != "" {
		client, err := e.ledgerOf(ctx, f.enrol)
		if err != nil {
			return nil, err
		}
		if client != nil {
			deps.Sync, deps.Ledger = client, client
		}
	} else {
		client, err := e.startLedger(ctx)
		if err != nil {
			return nil, err
		}
		deps.Sync, deps.Ledger = client, client
	}
	d, err := terminal.NewDaemon(e.cfg, deps)
	if err != nil {
		_ = deps.Board.Close()
		return nil, err
	}
	return d, nil
}

// SetInput drives a simulated board input for the control interface.
func (e *simEnv) SetInput(name string, active bool) error {
	for _, in := range e.spec.Inputs {
		if in.Name == name {
			e.pins.Set(in.Pin, active != in.ActiveLow)
			return nil
		}
	}
	return fmt.Errorf("%w: input %q", board.ErrUnknown, name)
}

// localStatusList lists the demo's lost card when no ledger runs.
func (e *simEnv) localStatusList() error {
	info, err := e.store.StatusInfo()
	if err != nil || info.Version > 0 {
		return err
	}
	var entries []offline.StatusEntry
	for _, c := range sim.Catalogue() {
		if c.Listed == "" {
			continue
		}
		r, err := offline.ParseReason(c.Listed)
		if err != nil {
			return err
		}
		entries = append(entries, offline.StatusEntry{CardNo: c.Profile.CardNumber(), Reason: r, Since: time.Now().Add(-24 * time.Hour)})
	}
	return e.store.ApplySnapshot(offline.StatusSnapshot{Version: 1, Entries: entries})
}

// startLedger starts the reference ledger in-process on loopback, gives it
// the demo's status list and rules, enrols the device and runs a first sync
// round so that the lost card is listed before the first tap.
func (e *simEnv) startLedger(ctx context.Context) (*syncclient.Client, error) {
	loc, err := time.LoadLocation(e.cfg.Device.Timezone)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l, err := ledger.Open(filepath.Join(e.dir, "ledger"), ledger.Options{IssuerKeys: sam.TestKeys().Keys,
		Logger: e.log.With("component", "ledger"), Location: loc})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	e.ledger = l
	if err := e.seedLedger(); err != nil {
		return nil, err
	}
	// A transfer the last run asked of the (simulated) bank and did not
	// record: the bank may have debited; finish it before the first card.
	if _, err := l.ResumeTransfers(ctx); err != nil {
		e.log.Warn("transfers left requested not finished", "err", err)
	}
	srv, err := ledger.NewServer(l)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	e.ledgerSrv = &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.ledgerSrv.Serve(ln) }()
	e.ledgerURL = "http://" + ln.Addr().String() + "/"
	// Plain http on loopback, with the in-process ledger's key pinned.
	e.cfg.Sync.Ledger, e.cfg.Sync.Insecure = e.ledgerURL, true
	e.cfg.Sync.LedgerKey = protocol.Fingerprint(l.PublicKey())

	token := ""
	if _, err := os.Stat(filepath.Join(e.dir, ledgerKeyFile)); errors.Is(err, os.ErrNotExist) {
		if token, _, err = l.NewToken(e.cfg.Device.ID, e.cfg.Device.Kind); err != nil {
			return nil, fmt.Errorf("ledger token: %w", err)
		}
	}
	client, err := newSyncClient(ctx, e.cfg, e.store, token, func(o *syncclient.Options) {
		o.Interval = 5 * time.Second
		o.BackoffMax = 10 * time.Second
		o.Logger = e.log.With("component", "sync")
	}, e.log)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	e.firstPull(ctx, client)
	return client, nil
}

// firstPull runs a first download of the status list and the rules, so
// that the lost card is listed before the first tap; the sync loop retries
// what fails.
func (e *simEnv) firstPull(ctx context.Context, client *syncclient.Client) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := client.PullStatus(rctx); err != nil {
		e.log.Warn("first status download failed; the sync loop retries", "err", err)
	}
	if _, err := client.PullRules(rctx); err != nil {
		e.log.Warn("first rules download failed; the sync loop retries", "err", err)
	}
}

// seedLedger gives a new ledger the demo's status list and rules.
func (e *simEnv) seedLedger() error {
	v, _, err := e.ledger.StatusVersion()
	if err != nil {
		return err
	}
	if v == 0 {
		for _, c := range sim.Catalogue() {
			if c.Listed == "" {
				continue
			}
			r, err := offline.ParseReason(c.Listed)
			if err != nil {
				return err
			}
			if _, err := e.ledger.SetStatus(c.Profile.CardNumber(), uint8(r)); err != nil {
				return fmt.Errorf("ledger status: %w", err)
			}
		}
	}
	if e.cfg.Device.Kind == config.KindKiosk {
		// The demo accounts: money to claim, a bank account, and the
		// accounts whose loads are refused (ledger.DemoAccounts).
		if err := ledger.SeedDemo(e.ledger); err != nil {
			return err
		}
	}
	if r, _, err := e.ledger.Rules(0); err == nil && r.Version > 0 {
		return nil
	}
	if _, err := e.ledger.SetRules(demoRules()); err != nil {
		return fmt.Errorf("ledger rules: %w", err)
	}
	return nil
}

// demoRules lets students and staff through the demo door all day, with a
// one-minute anti-passback.
func demoRules() protocol.Rules {
	return protocol.Rules{
		Doors:    []protocol.Door{{ID: "dorm-3-east", AntiPassbackSec: 60}},
		Profiles: []protocol.TimeProfile{{ID: "always", Windows: []protocol.TimeWindow{{Days: 0x7F, Start: 0, End: 1440}}}},
		Groups: []protocol.AccessGroup{{ID: "residents", Doors: []string{"dorm-3-east"}, Profile: "always",
			Classes: []uint8{sim.ClassStudent, sim.ClassStaff}}},
	}
}

func (e *simEnv) close() {
	if e.ledgerSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = e.ledgerSrv.Shutdown(sctx)
		cancel()
	}
	if e.ledger != nil {
		_ = e.ledger.Close()
	}
	// The daemon closes the store; closing it twice is harmless.
	_ = e.store.Close()
}

// tapper taps the demo cards: every interval, and when a card's number or
// name and Enter are typed (Enter alone: the next card). It waits for each
// tap's outcome, then takes the card away, so that a PIN prompt gets the
// keys. While the control interface drives the cards it taps nothing by
// itself, and leaves a card the control interface put down where it is.
func (e *simEnv) tapper(ctx context.Context, d *terminal.Daemon, every time.Duration) {
	next, linesOK, paused := 0, true, false
	var seen uint64
	for ctx.Err() == nil {
		pick, auto := -1, false
		if linesOK {
			lctx, cancel := ctx, context.CancelFunc(func() {})
			if every > 0 {
				lctx, cancel = context.WithTimeout(ctx, every)
			}
			line, err := e.in.NextLine(lctx)
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				n, ok := simChoice(line)
				if !ok {
					fmt.Fprintf(e.out, "no card %q: type a card's number or name and Enter (Enter alone: the next card): %s\n", line, simCardList())
					continue
				}
				pick = n
			case errors.Is(err, context.DeadlineExceeded):
				auto = true
			default:
				linesOK = false // no console input (EOF): timer only, no tap now
				continue
			}
		} else if every > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
			auto = true
		} else {
			<-ctx.Done()
			return
		}
		if auto && e.controlSince(time.Now().Add(-simControlPause)) {
			if !paused {
				paused = true
				fmt.Fprintf(e.out, "\n-- auto-tapper paused: the control interface is driving the cards (it resumes %s after its last request)\n", simControlPause)
			}
			continue
		}
		if auto && paused {
			paused = false
			fmt.Fprintln(e.out, "\n-- auto-tapper resumes")
		}
		if pick < 0 {
			pick = next
			next = (next + 1) % len(simCards)
		}
		name := simCards[pick]
		fmt.Fprintf(e.out, "\n-- tap %s card\n", name)
		tapped := time.Now()
		e.rdr.Tap(e.cards[name])
		if e.cfg.Device.Kind == config.KindGate {
			e.walkThrough(ctx, d, seen)
		}
		if recs := e.await(ctx, d, seen); len(recs) > 0 {
			seen = recs[len(recs)-1].N
		}
		if !e.controlSince(tapped) {
			e.rdr.Remove()
		}
	}
}

// controlSince tells whether the control interface drove a card at or
// after t.
func (e *simEnv) controlSince(t time.Time) bool {
	last := e.lastControl.Load()
	return last != 0 && last >= t.UnixNano()
}

// simChoice maps a console line to a demo card: its number (1 is the
// first) or its name; an empty line is -1, the next card. Anything else is
// not a card (ok false).
func simChoice(line string) (pick int, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" {
		return -1, true
	}
	for i, name := range simCards {
		if line == strconv.Itoa(i+1) || strings.EqualFold(line, name) {
			return i, true
		}
	}
	return 0, false
}

// simCardList is the demo cards with their numbers: "1 student, 2 lost, ...".
func simCardList() string {
	parts := make([]string, len(simCards))
	for i, name := range simCards {
		parts[i] = fmt.Sprintf("%d %s", i+1, name)
	}
	return strings.Join(parts, ", ")
}

// walkThrough plays the holder walking through the lane after the arm
// opened: the passage sensor turns active for a moment. It gives up when
// the tap was refused (a tap record after seen) or after 3 s.
func (e *simEnv) walkThrough(ctx context.Context, d *terminal.Daemon, seen uint64) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil && len(d.Taps(seen)) == 0 {
		if e.pins.High(e.spec.Relays[0].Pin) {
			time.Sleep(300 * time.Millisecond)
			_ = e.SetInput(e.cfg.Gate.PassageIn, true)
			time.Sleep(100 * time.Millisecond)
			_ = e.SetInput(e.cfg.Gate.PassageIn, false)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// await waits for the tap records after seen (up to 15 s).
func (e *simEnv) await(ctx context.Context, d *terminal.Daemon, seen uint64) []terminal.TapRecord {
	deadline := time.Now().Add(15 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if recs := d.Taps(seen); len(recs) > 0 {
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
