package terminal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/gate"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/pos"
	"github.com/openykt/yktd/terminal/ui"
)

// Syncer is the sync client as the daemon runs it (protocol/syncclient).
type Syncer interface {
	Run(ctx context.Context) error
}

// Flusher is a Syncer that uploads what is pending on demand
// (syncclient.Client.Flush): the daemon calls it as it stops, within
// DaemonDeps.UploadGrace, before it closes the store.
type Flusher interface {
	Flush(ctx context.Context) error
}

// DaemonDeps are the parts of a running terminal that cmd/yktd builds from
// the configuration (real hardware) or from the simulator (yktd run --sim).
// The daemon takes ownership: it halts the board and closes the store when
// Run returns.
type DaemonDeps struct {
	Store   *offline.Store
	Board   *board.Board
	Readers []reader.Reader
	SAM     epurse.SAM
	Display ui.Display
	Keypad  ui.Keypad
	Buzzer  ui.Buzzer
	// VerifyQR checks campus QR tokens (protocol.VerifyQRToken); nil
	// refuses them.
	VerifyQR gate.QRVerifier
	// Sync, if set, runs beside the flows.
	Sync Syncer
	// Ledger, if set, is the online link a kiosk loads through, and a POS
	// claims through before the sale (nil: not enrolled; a kiosk refuses
	// every claim as ledger_unreachable, a POS just sells).
	Ledger Ledger
	// Control, if set, is mounted on the control interface (the simulator's
	// card and reader endpoints, under /sim/).
	Control http.Handler
	// Inputs, if it implements InputSetter (a simulated board), lets the
	// control interface drive board inputs.
	Inputs any
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Grace is how long a tap in progress may finish after shutdown began
	// (default 5s): a purchase is never cut between DEBIT and its journal
	// record by a clean stop.
	Grace time.Duration
	// UploadGrace bounds the upload of what is pending after the taps
	// stopped (default DefaultUploadGrace): a stop with the ledger
	// unreachable waits no longer.
	UploadGrace time.Duration
	// Notifier, if set, is told when the daemon is ready, how it is, and
	// pet while it is healthy (systemd, /dev/watchdog: daemon_notify.go).
	Notifier Notifier
	// Version is the binary's version for yktd_build_info ("": the
	// module's, from the build info).
	Version string
}

// DefaultUploadGrace is DaemonDeps.UploadGrace when left zero.
const DefaultUploadGrace = 3 * time.Second

// Daemon is one running terminal: readers feeding the POS, gate or kiosk flow,
// the board, the store, the sync client and the control interface.
type Daemon struct {
	cfg  *config.Config
	deps DaemonDeps
	log  *slog.Logger
	loc  *time.Location
	pos  *pos.POS
	gate *gate.Gate
	// kiosk and sessions are the kiosk flow and its card's session.
	kiosk    *kiosk.Kiosk
	sessions *kiosk.Sessions
	// cardWrites does the card writes of the self-service (kiosk) and
	// reports them; nil on another kind.
	cardWrites *cardwrite.Engine

	rules rulesCache
	holds *hold.Holds
	// shownHold is the hold last announced (display, log); "" none.
	holdMu    sync.Mutex
	shownHold policy.Code
	// psam is the PSAM binding's check (daemon_psam.go).
	psam psamCheck

	outcomes  outcomeLog
	ctl       *http.Server
	ctlLn     net.Listener
	ctlCancel context.CancelFunc
	// polls counts the long polls of /v1/taps waiting in their handler.
	polls atomic.Int32
	// beats carries the supervisor's heartbeats to the tap loop (nil: none).
	beats chan chan struct{}
	// metrics are served at /metrics (metrics.go).
	metrics *daemonMetrics
}

// NewDaemon wires a terminal from its configuration and parts. It reads the
// held rules and, for a POS, lists the sales that wait for their card
// (open intents of a previous run are marked uncertain).
func NewDaemon(cfg *config.Config, deps DaemonDeps) (*Daemon, error) {
	if deps.Store == nil || deps.Display == nil {
		return nil, errors.New("terminal: daemon: store and display are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Grace <= 0 {
		deps.Grace = 5 * time.Second
	}
	if deps.UploadGrace <= 0 {
		deps.UploadGrace = DefaultUploadGrace
	}
	loc, err := time.LoadLocation(cfg.Device.Timezone)
	if err != nil {
		return nil, fmt.Errorf("terminal: daemon: timezone %q: %w", cfg.Device.Timezone, err)
	}
	d := &Daemon{cfg: cfg, deps: deps, log: deps.Logger, loc: loc}
	d.outcomes.init()
	d.initMetrics()
	deps.SAM = watchSAM(deps.SAM, &d.metrics.psam)
	d.deps.SAM = deps.SAM
	if deps.SAM != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := deps.SAM.TerminalID(ctx); err != nil {
			d.log.Warn("PSAM does not answer: no sale or load until it does; check the SAM slot", "err", err)
		}
		cancel()
	}
	if err := d.rules.load(deps.Store); err != nil {
		return nil, err
	}
	if err := d.initHolds(); err != nil {
		return nil, err
	}
	switch cfg.Device.Kind {
	case config.KindPOS:
		if deps.SAM == nil {
			return nil, errors.New("terminal: daemon: a POS needs a SAM (device.sam)")
		}
		po := pos.Options{Store: deps.Store, SAM: deps.SAM, Display: deps.Display, Keypad: deps.Keypad,
			Buzzer: deps.Buzzer, Now: deps.Now, Location: loc, Config: cfg.POS, Rules: d.rules.get, Logger: deps.Logger,
			Holds: d.holds}
		if deps.Ledger != nil {
			po.Ledger = deps.Ledger // the claim before the sale (pos.claim_loads)
			// 补写 of the card's pending writes before the sale (online).
			if po.Writes, err = cardwrite.New(cardwrite.Options{Store: cardwrite.OfflineStore{S: deps.Store}, Ledger: deps.Ledger,
				LedgerTimeout: cfg.POS.ClaimTimeout.D(), Logger: deps.Logger}); err != nil {
				return nil, err
			}
			d.cardWrites = po.Writes
		}
		d.pos, err = pos.New(po)
		if err != nil {
			return nil, err
		}
		if err := d.pos.Startup(); err != nil {
			return nil, err
		}
	case config.KindGate:
		if deps.Board == nil {
			return nil, errors.New("terminal: daemon: a gate needs a board")
		}
		d.gate, err = gate.New(gate.Options{Store: deps.Store, Board: deps.Board, Display: deps.Display, Keypad: deps.Keypad,
			Buzzer: deps.Buzzer, Config: cfg.Gate, Rules: d.rules.get, VerifyQR: deps.VerifyQR, Now: deps.Now,
			Location: loc, Logger: deps.Logger, Holds: d.holds})
		if err != nil {
			return nil, err
		}
	case config.KindKiosk, config.KindDesk:
		if deps.SAM == nil {
			return nil, errors.New("terminal: daemon: a kiosk needs a SAM (device.sam)")
		}
		if err := d.newKiosk(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("terminal: daemon: device kind %q is not supported by this version", cfg.Device.Kind)
	}
	if cfg.Control.Listen != "" {
		if err := d.listenControl(cfg.Control.Listen); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ControlAddr returns the control interface's address ("" when off).
func (d *Daemon) ControlAddr() string {
	if d.ctlLn == nil {
		return ""
	}
	return d.ctlLn.Addr().String()
}

// POS returns the POS flow, or nil on a gate.
func (d *Daemon) POS() *pos.POS { return d.pos }

// Gate returns the gate flow, or nil on a POS.
func (d *Daemon) Gate() *gate.Gate { return d.gate }

// Run runs the terminal until ctx ends, then shuts down cleanly: readers
// stop, a tap in progress finishes (within the grace period), the relays go
// to their safe state, the store is closed. It returns nil after a clean
// shutdown, or the fault that stopped the terminal.
func (d *Daemon) Run(ctx context.Context) (err error) {
	d.log.Info("yktd: running", "device", d.cfg.Device.ID, "kind", d.cfg.Device.Kind, "store", d.deps.Store.Path(),
		"readers", len(d.deps.Readers), "control", d.ControlAddr())
	defer func() { err = errors.Join(err, d.shutdown()) }()

	// Taps use their own context: shutdown lets the tap in progress end
	// before it is cancelled, so that no purchase is torn by a clean stop.
	tapCtx, cancelTaps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTaps()
	readCtx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()

	var wg sync.WaitGroup
	faults := make(chan error, 4)
	events := make(chan reader.Event, 16)
	mgr := &reader.Manager{Readers: d.metrics.watchReaders(d.deps.Readers), Log: d.log}
	wg.Add(1)
	go func() { defer wg.Done(); mgr.Run(readCtx, events) }()

	if d.ctl != nil {
		go func() {
			if err := d.ctl.Serve(d.ctlLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("control interface stopped", "err", err)
			}
		}()
	}
	if d.gate != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.gate.Run(readCtx); err != nil {
				faults <- err
			}
		}()
	}
	if d.kiosk != nil || (d.pos != nil && d.deps.Ledger != nil) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.runConfirms(readCtx); err != nil {
				faults <- err
			}
		}()
	}
	if d.deps.Sync != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.deps.Sync.Run(readCtx); err != nil && readCtx.Err() == nil {
				d.log.Error("sync stopped", "err", err)
			}
			d.rules.reload(d.deps.Store, d.log)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.watchRules(readCtx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.housekeeping(readCtx)
	}()
	_ = d.deps.Display.Show(ctx, ui.Idle())
	d.journalRevocation()
	d.journalPSAM()
	d.announceHold(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.watchHolds(readCtx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.watchTamper(readCtx)
	}()

	if d.kiosk != nil {
		// What a previous run left is settled before the first card:
		// open loads become uncertain, credited ones are confirmed.
		if err := d.kiosk.Startup(tapCtx); err != nil {
			stopReaders()
			wg.Wait()
			return err
		}
	}
	stopSupervisor := d.startSupervisor(readCtx)
	taps := make(chan struct{})
	go func() {
		defer close(taps)
		d.dispatch(tapCtx, readCtx, events)
	}()

	select {
	case <-ctx.Done():
		d.log.Info("yktd: shutting down")
	case err = <-faults:
		d.log.Error("yktd: terminal fault, stopping", "err", err)
	}
	stopSupervisor(err == nil)
	stopReaders()
	select {
	case <-taps:
	case <-time.After(d.deps.Grace):
		d.log.Warn("yktd: tap still running after the grace period; cancelling it")
		cancelTaps()
		<-taps
	}
	wg.Wait()
	d.uploadPending()
	return err
}

// uploadPending uploads what the journal holds that the ledger has not
// acknowledged, within UploadGrace, before the store closes: the last
// sales reach the ledger now rather than at the next start.
func (d *Daemon) uploadPending() {
	f, ok := d.deps.Sync.(Flusher)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.deps.UploadGrace)
	defer cancel()
	if err := f.Flush(ctx); err != nil {
		d.log.Warn("yktd: journal not uploaded before stopping; it goes at the next start", "err", err,
			"bound", d.deps.UploadGrace.String())
	}
}

// dispatch hands reader events to the flow, one at a time.
func (d *Daemon) dispatch(tapCtx, readCtx context.Context, events <-chan reader.Event) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-readCtx.Done():
			return
		case <-tick.C:
			if d.pos != nil {
				for _, s := range d.pos.ExpireSessions() {
					d.log.Info("pos: metered session expired", "card", s.CardNo)
				}
			}
			if d.sessions != nil {
				d.sessions.Expire(tapCtx)
			}
		case ack := <-d.beats:
			close(ack)
		case ev := <-events:
			d.handle(tapCtx, ev)
		}
	}
}

func (d *Daemon) handle(ctx context.Context, ev reader.Event) {
	start := time.Now()
	switch {
	case d.pos != nil && ev.Kind == reader.CardPresent:
		res, err := d.pos.HandleCard(ctx, ev.Card, 0)
		d.metrics.posTap(res)
		d.outcomes.add(TapRecord{Time: d.deps.Now(), Reader: ev.Reader, Flow: "pos", Outcome: res.Outcome.String(),
			Code: string(res.Code), Card: res.CardNo, Amount: res.Amount, Balance: res.Balance, Intent: res.IntentID,
			Recovered: res.Recovered, Error: errString(err)})
	case d.sessions != nil:
		d.handleKiosk(ctx, ev)
	case d.gate != nil && ev.Kind != reader.CardRemoved:
		res, err := d.gate.HandleEvent(ctx, ev)
		d.metrics.gateTap(res, time.Since(start))
		d.outcomes.add(TapRecord{Time: d.deps.Now(), Reader: ev.Reader, Flow: "gate", Outcome: res.Outcome.String(),
			Code: string(res.Code), Card: res.ID, Direction: res.Direction.String(), Seq: res.Seq, Error: errString(err)})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// watchRules re-reads the rules from the store when the sync client
// applied a newer version.
func (d *Daemon) watchRules(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.rules.reload(d.deps.Store, d.log)
		}
	}
}

// HousekeepingInterval is how often the daemon purges what the store no
// longer needs (journal records the ledger acknowledged longer ago than the
// retention period, expired campus QR nonces) and checks the store's room.
const HousekeepingInterval = time.Hour

// housekeeping runs the store's purges every HousekeepingInterval, and
// once at start, until ctx ends.
func (d *Daemon) housekeeping(ctx context.Context) {
	t := time.NewTicker(HousekeepingInterval)
	defer t.Stop()
	for {
		for {
			n, err := d.deps.Store.Purge()
			if err != nil {
				d.log.Error("journal purge failed", "err", err)
				break
			}
			if n > 0 {
				d.log.Info("journal purged: acknowledged records past retention", "records", n)
			}
			if n < 10_000 || ctx.Err() != nil {
				break // Purge deletes at most 10,000 a call
			}
		}
		d.checkCapacity(ctx)
		if n, err := d.deps.Store.PurgeNonces(d.deps.Now()); err != nil {
			d.log.Error("QR nonce purge failed", "err", err)
		} else if n > 0 {
			d.log.Debug("QR nonces purged", "nonces", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkCapacity warns the technician, on the log and the display, when the
// journal is nearly full (the ledger has not acknowledged it for long): new
// purchases stop when it is full.
func (d *Daemon) checkCapacity(ctx context.Context) {
	c, err := d.deps.Store.Capacity()
	if err != nil {
		d.log.Error("store capacity", "err", err)
		return
	}
	if c.Level == offline.LevelOK {
		return
	}
	d.log.Warn(c.Level.String(), "unacked", c.Unacked, "max_unacked", c.MaxUnacked)
	_ = d.deps.Display.Show(ctx, ui.StorageNearlyFull())
}

// shutdown halts the board and closes the control interface and the store.
func (d *Daemon) shutdown() error {
	var errs []error
	if d.ctl != nil {
		d.ctlCancel()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = d.ctl.Shutdown(sctx)
		cancel()
		_ = d.ctlLn.Close() // a unix socket removes its path, only while it is its own (control_listen.go)
	}
	if d.deps.Board != nil {
		if err := d.deps.Board.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("terminal: halt board: %w", err))
		}
		if err := d.deps.Board.Close(); err != nil {
			errs = append(errs, fmt.Errorf("terminal: close board: %w", err))
		}
	}
	if err := d.deps.Store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("terminal: close store: %w", err))
	}
	d.log.Info("yktd: stopped", "relays", "safe", "store", "closed")
	return errors.Join(errs...)
}

// rulesCache holds the signed rules the store has, for the flows.
type rulesCache struct {
	mu      sync.Mutex
	rules   *protocol.Rules
	version uint64
}

func (c *rulesCache) load(s *offline.Store) error {
	r, v, err := s.Rules()
	if err != nil {
		return fmt.Errorf("terminal: daemon: read rules: %w", err)
	}
	if v == 0 {
		return nil // none held yet
	}
	c.mu.Lock()
	c.rules, c.version = &r, v
	c.mu.Unlock()
	return nil
}

func (c *rulesCache) reload(s *offline.Store, log *slog.Logger) {
	v, _, err := s.RulesVersion()
	if err != nil {
		return
	}
	c.mu.Lock()
	same := v == c.version
	c.mu.Unlock()
	if same {
		return
	}
	if err := c.load(s); err != nil {
		log.Error("rules reload failed", "err", err)
		return
	}
	log.Info("rules applied", "version", v)
}

func (c *rulesCache) get() *protocol.Rules {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rules
}
