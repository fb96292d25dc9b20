package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/internal/devkey"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/readers"
	"github.com/openykt/yktd/terminal/ui"
)

func init() {
	register(command{
		name:    "run",
		summary: "run the terminal daemon (--config FILE on a device, --sim for the simulator)",
		run:     runDaemon,
	})
}

const runUsage = `usage: yktd run --config FILE [--enrol TOKEN] [--new-store]
       yktd run --sim [--kind pos|gate|kiosk] [--dir DIR] [--auto 4s] [--control ADDR] [--no-ledger] [--print-config]
       yktd run --sim --config FILE [--enrol TOKEN] --dir DIR   (the rig's simulator, docs/rig.md)
both:  [--log FILE]

--config  runs the terminal a configuration file describes (docs/config.md).
--sim     runs the same daemon on the simulator: virtual cards on a virtual
          reader, a simulated board, the software SAM and the reference ledger
          in-process. The demo cards tap by themselves every --auto interval
          (0: never; paused while the control interface drives the cards)
          and when you type a card's number or name and Enter (Enter alone:
          the next card). Without --dir its folder is removed at the end.
--sim --config runs the simulator on FILE instead of the demo configuration,
          on every card of DIR/cards, with no demo tapper (the console's keys go
          to the keypad); with sync.ledger in FILE it enrols with --enrol's token
          at that ledger instead of starting one.
--log     writes the log to FILE (appended) instead of stderr; the customer
          display is on stdout.
SIGTERM or Ctrl-C stops it cleanly: a tap in progress finishes, the relays go
to their safe state, the store is closed. On a terminal Ctrl-C is read as a
key (the terminal sends no SIGINT), so a make around yktd exits 0.

A device whose store is missing or empty beside its identity (device.key or
ledger.pub) does not start (exit code 4): put the store back, or start the
device's next journal epoch with --new-store. --new-store never replaces a
store that has content.`

// runEnv is what run takes from the process; tests replace it.
var runEnv = struct {
	stdin     io.Reader
	interrupt func(context.Context) (context.Context, context.CancelFunc)
}{
	stdin: os.Stdin,
	interrupt: func(ctx context.Context) (context.Context, context.CancelFunc) {
		return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	},
}

type runFlags struct {
	config, enrol, kind, dir, control string
	logFile                           string
	sim, noLedger, printConfig        bool
	newStore                          bool
	auto                              time.Duration
	updateSlots                       string        // update_run.go
	healthTimeout                     time.Duration // update_run.go
	trial                             *trialRun     // update_run.go
}

func runDaemon(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.config, "config", "", "device configuration file")
	fs.StringVar(&f.enrol, "enrol", "", "one-time enrolment token from the ledger (ledgerd token new)")
	fs.BoolVar(&f.newStore, "new-store", false, "start a new store, the device's next journal epoch, when its store is missing or empty")
	fs.BoolVar(&f.sim, "sim", false, "run on the simulator")
	fs.StringVar(&f.kind, "kind", "pos", "simulator: pos, gate or kiosk")
	fs.StringVar(&f.dir, "dir", "", "simulator: data directory (default: a new temporary directory)")
	fs.StringVar(&f.control, "control", "", "simulator: control interface address (default 127.0.0.1:0)")
	fs.DurationVar(&f.auto, "auto", 4*time.Second, "simulator: tap a demo card every interval (0: only on Enter)")
	fs.BoolVar(&f.noLedger, "no-ledger", false, "simulator: no in-process ledger (the status list is applied locally)")
	fs.BoolVar(&f.printConfig, "print-config", false, "simulator: print the demo configuration and exit")
	fs.StringVar(&f.logFile, "log", "", "write the log to `FILE` (appended) instead of stderr")
	fs.StringVar(&f.updateSlots, "update-slots", "", "the update slots `DIR` this binary may be on trial in (docs/update.md)")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 60*time.Second, "a binary on trial commits once healthy within this, else rolls back")
	fs.Usage = func() { fmt.Fprintln(stderr, runUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || !f.sim && f.config == "" {
		return usageError("run takes either --config FILE or --sim")
	}
	if f.sim && f.enrol != "" && f.config == "" {
		return usageError("--enrol is for a device; the simulator enrols with its own ledger")
	}
	if f.kind != config.KindPOS && f.kind != config.KindGate && f.kind != config.KindKiosk && f.kind != config.KindDesk {
		return usageError("--kind %q: want pos, gate, kiosk or desk", f.kind)
	}
	if f.printConfig {
		if !f.sim {
			return usageError("--print-config is for --sim")
		}
		b, err := simConfigs.ReadFile("simconfig/" + f.kind + ".toml")
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	logOut := stderr
	if f.logFile != "" {
		lf, err := os.OpenFile(f.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("log: %w", err)
		}
		defer lf.Close()
		logOut = lf
	}
	ctx, stop := runEnv.interrupt(context.Background())
	defer stop()
	var err error
	if f.trial, ctx, err = beginTrial(ctx, f.updateSlots, f.healthTimeout, logOut); err != nil {
		return err
	}
	ctx, ctrlC := context.WithCancel(ctx)
	defer ctrlC()
	var onCtrlC func()
	var echo io.Writer
	if in, ok := runEnv.stdin.(*os.File); ok {
		restore, terminal := rawKeys(in)
		defer restore()
		if terminal {
			onCtrlC, echo = ctrlC, stdout
		}
	}
	in := newConsoleInput(runEnv.stdin, onCtrlC, echo, f.sim)
	if f.sim {
		return f.trial.result(runSim(ctx, f, in, stdout, logOut))
	}
	return f.trial.result(runConfigured(ctx, f, in, stdout, logOut))
}

// newLogger makes the daemon's logger: JSON for the field, text on a
// console, without the time when w is the journal's stream.
func newLogger(c config.Device, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if journald(w) {
		opts.ReplaceAttr = dropTime // the journal stamps each line
	}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// runConfigured runs the daemon on the hardware a configuration describes,
// its console on in and stdout, its log on stderr.
func runConfigured(ctx context.Context, f runFlags, in io.Reader, stdout, stderr io.Writer) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Device, stderr)
	if err := checkConfig(f.config, cfg, log); err != nil {
		return err
	}
	plan, err := planStore(cfg.Device.Store, identityDir(cfg), f.newStore)
	if err != nil {
		return err
	}
	if cfg.Device.DataDir != "" {
		if err := os.MkdirAll(cfg.Device.DataDir, 0o700); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	store, err := plan.open(storeOptions(cfg), log)
	if err != nil {
		return err
	}
	deps := terminal.DaemonDeps{Store: store, Logger: log, VerifyQR: protocol.VerifyQRToken, Version: version}
	closeAll := func() {
		if deps.Board != nil {
			_ = deps.Board.Close()
		}
		_ = store.Close()
	}
	if deps.Board, err = openBoard(cfg.Board, log); err != nil {
		closeAll()
		return err
	}
	if deps.Readers, err = readers.Build(cfg.Readers, readers.Options{Log: log}); err != nil {
		closeAll()
		return err
	}
	deps.Control = simControl(deps.Readers, cfg.Device.DataDir, log)
	if cfg.Device.Kind == config.KindPOS || cfg.Device.Kind == config.KindKiosk || cfg.Device.Kind == config.KindDesk {
		var stopSAM func()
		if deps.SAM, stopSAM, err = openSAM(ctx, cfg.Device.SAM, log); err != nil {
			closeAll()
			return err
		}
		defer stopSAM() // after the daemon's Run: see openSAM (psam.go)
	}
	console := ui.NewConsole(in, stdout)
	deps.Display, deps.Keypad = console, console
	deps.Buzzer = buzzerOf(deps.Board, cfg.Board)
	if cfg.Sync.Ledger != "" {
		client, err := newSyncClient(ctx, cfg, store, f.enrol, enrolPSAM(ctx, deps.SAM), log)
		if err != nil {
			closeAll()
			return fmt.Errorf("sync: %w", err)
		}
		if client != nil {
			deps.Sync, deps.Ledger = client, client
		}
	}
	var release func()
	if deps.Notifier, release, err = supervisorOf(log); err != nil {
		closeAll()
		return err
	}
	defer release()
	d, err := terminal.NewDaemon(cfg, deps)
	if err != nil {
		if deps.Notifier != nil {
			_ = deps.Notifier.Stopping() // a refusal to start is no crash: disarm a watchdog device
		}
		closeAll()
		return err
	}
	f.trial.watch(d)
	return d.Run(ctx)
}

// storeOptions are the daemon's store options. A terminal serves one tap at
// a time, so a purchase completion has nothing to share a group commit with:
// waiting bbolt's default 2 ms for company only delays the customer's
// "approved". 1 µs: BenchmarkPOSPurchase measured a completion p50 of
// 0.24 ms with it, 1.5 ms with 50 µs (the wait is rounded up to the
// runtime's timer resolution) and 2.7 ms with the default.
func storeOptions(cfg *config.Config) offline.Options {
	return offline.Options{DeviceID: cfg.Device.ID, GroupCommitDelay: time.Microsecond}
}

// buzzerOf returns the board's buzzer indicator, or nil.
func buzzerOf(b *board.Board, c config.Board) ui.Buzzer {
	for _, ind := range c.Indicators {
		if ind.Kind != config.IndicatorBuzzer {
			continue
		}
		if bz, err := b.Indicator(ind.Name); err == nil {
			return bz
		}
	}
	return nil
}

// Files of a device's identity in its data directory.
const (
	deviceKeyFile = devkey.FileName // the device's Ed25519 key, 0600, made at first start
	ledgerKeyFile = "ledger.pub"    // the ledger's key, pinned at enrolment
)

// deviceSigner reads the device key from dir (devkey.File: device.key),
// making it at first start.
func deviceSigner(dir, id string, log *slog.Logger) (*protocol.Signer, error) {
	st := devkey.InDir(dir)
	k, made, err := devkey.LoadOrCreate(st)
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	if made {
		log.Info("device key made", "file", st.Path, "fingerprint", k.Fingerprint())
	}
	return k.Signer(id)
}

func writeFile0600(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// newSyncClient builds the sync client. With the ledger key not pinned
// yet it enrols with token; without a token it returns nil: the device
// runs offline until enrolled (the journal waits).
func newSyncClient(ctx context.Context, cfg *config.Config, store *offline.Store, token string, tune func(*syncclient.Options), log *slog.Logger) (*syncclient.Client, error) {
	dir := cfg.Device.DataDir
	if dir == "" {
		dir = filepath.Dir(cfg.Device.Store)
	}
	signer, err := deviceSigner(dir, cfg.Device.ID, log)
	if err != nil {
		return nil, err
	}
	opts, err := syncOptions(cfg, signer, store, log)
	if err != nil {
		return nil, err
	}
	if tune != nil {
		tune(&opts)
	}
	pinned := filepath.Join(dir, ledgerKeyFile)
	if b, err := os.ReadFile(pinned); err == nil {
		pk, err := protocol.DecodePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("pinned ledger key %s: %w", pinned, err)
		}
		opts.LedgerKeys = protocol.NewKeys(pk)
		return syncclient.New(opts)
	}
	if token == "" {
		log.Warn("not enrolled with the ledger: sync is off until `yktd run --enrol TOKEN`", "ledger", cfg.Sync.Ledger)
		return nil, nil
	}
	c, err := syncclient.New(opts)
	if err != nil {
		return nil, err
	}
	resp, err := c.Enrol(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	pk := protocol.PublicKey{KeyID: resp.LedgerKeyID, Alg: resp.LedgerAlg, Key: resp.LedgerKey}
	b, err := protocol.EncodePublicKeyPEM(pk)
	if err != nil {
		return nil, err
	}
	if err := writeFile0600(pinned, b); err != nil {
		return nil, fmt.Errorf("pin ledger key: %w", err)
	}
	log.Info("enrolled with the ledger", "ledger", cfg.Sync.Ledger, "ledger_kid", resp.LedgerKeyID)
	return c, nil
}

// enrolPSAM tunes the sync client to send the terminal id of the device's
// PSAM with an enrolment (the ledger binds it to the device); nil when
// there is no SAM or its PSAM cannot be read now (the ledger then binds
// the first one a record carries).
func enrolPSAM(ctx context.Context, s epurse.SAM) func(*syncclient.Options) {
	if s == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	tid, err := s.TerminalID(rctx)
	if err != nil {
		return nil
	}
	return func(o *syncclient.Options) { o.TerminalID = tid[:] }
}

// syncOptions are the sync client's options for cfg, signing with signer;
// with store nil (provisioning's enrolment, before the store is made) the
// client has no journal, status list or rules to sync.
func syncOptions(cfg *config.Config, signer *protocol.Signer, store *offline.Store, log *slog.Logger) (syncclient.Options, error) {
	var err error
	to := syncclient.TransportOptions{ServerName: cfg.Sync.ServerName, RequestTimeout: cfg.Sync.Timeout.D()}
	if cfg.Sync.CAFile != "" {
		if to.CAPEM, err = os.ReadFile(cfg.Sync.CAFile); err != nil {
			return syncclient.Options{}, fmt.Errorf("ledger CA: %w", err)
		}
	}
	if cfg.Sync.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Sync.CertFile, cfg.Sync.KeyFile)
		if err != nil {
			return syncclient.Options{}, fmt.Errorf("client certificate: %w", err)
		}
		to.ClientCert = &cert
	}
	if cfg.Sync.Proxy != "" {
		if to.Proxy, err = url.Parse(cfg.Sync.Proxy); err != nil {
			return syncclient.Options{}, fmt.Errorf("proxy: %w", err)
		}
	}
	hc, err := syncclient.NewHTTPClient(cfg.Sync.Ledger, to)
	if err != nil {
		return syncclient.Options{}, err
	}
	opts := syncclient.Options{Ledger: cfg.Sync.Ledger, DeviceID: cfg.Device.ID, Signer: signer, HTTP: hc,
		BatchSize: cfg.Sync.BatchSize, BackoffBase: cfg.Sync.MinBackoff.D(), BackoffMax: cfg.Sync.MaxBackoff.D(),
		Interval: cfg.Sync.Interval.D(), LedgerFingerprint: cfg.Sync.LedgerKey, RequireLedgerPin: !cfg.Sync.Insecure,
		Logger: log, Kind: deviceKind(cfg.Device.Kind), Firmware: "yktd " + version, Site: cfg.Device.Site}
	if store != nil {
		src := store.SyncSource()
		opts.Journal, opts.Status, opts.Rules = src, src, src
	}
	return opts, nil
}

func deviceKind(k string) protocol.DeviceKind {
	switch k {
	case config.KindGate:
		return protocol.DeviceGate
	case config.KindKiosk:
		return protocol.DeviceKiosk
	case config.KindDesk:
		return protocol.DeviceDesk
	}
	return protocol.DevicePOS
}
