package pos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Store is what the POS needs of the offline store; *offline.Store
// implements it. It is an interface so that tests can cut the power at a
// chosen commit.
type Store interface {
	Lookup(cardNo string) (offline.StatusEntry, bool, error)
	OpenIntent(p offline.PurchaseIntent) (offline.Intent, error)
	CompleteIntent(id uint64, c offline.Completion) (uint64, error)
	VoidIntent(id uint64, reason string) (uint64, error)
	MarkUncertain(id uint64, reason string) (uint64, error)
	Intents() ([]offline.Intent, error)
	Append(r protocol.Record) (uint64, error)
	Head() (offline.Head, error)
	Records(after uint64, n int) ([]offline.Entry, error)
	// StatusInfo tells whether a status list is held (Version > 0): a
	// POS takes no money before.
	StatusInfo() (offline.StatusInfo, error)
	// The load intents of the claim before the sale (terminal/load).
	load.Store
}

var _ Store = (*offline.Store)(nil)

// Options configure a POS. Store, SAM and Display are required; Keypad is
// required in keyed mode and whenever a sale may need the PIN.
type Options struct {
	Store   Store
	SAM     epurse.SAM
	Display ui.Display
	Keypad  ui.Keypad
	// Buzzer, if set, beeps the outcome of each tap.
	Buzzer ui.Buzzer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the device time zone for the card's date and time, days
	// and meal periods; nil means time.Local.
	Location *time.Location
	// Config is the POS section of the device configuration (mode, prices,
	// limits, windows). Zero durations take the config package's defaults.
	Config config.POS
	// Rules returns the signed rules held (prices, limits, class pricing,
	// meal periods), or nil; nil Rules means none.
	Rules func() *protocol.Rules
	// AIDs are the e-purse applications to select; nil means cardread.DefaultAIDs.
	AIDs [][]byte
	// Logger receives the technician's log; nil discards it.
	Logger *slog.Logger
	// Holds are the terminal's money holds, shared with the daemon; nil
	// gives the POS its own, which know only whether the store holds a
	// status list.
	Holds *hold.Holds
	// Ledger, if set, is the online link for the claim before the sale
	// (pos.claim_loads): a card whose account holds money for loading is
	// loaded first, then sold to. nil: the POS only sells (and still
	// settles the load intents it holds from the card).
	Ledger Ledger
	// SystemPIN is the source of the cards' system PINs for the claim;
	// nil means SAM, when it is one (*sam.Software, the PC/SC PSAM).
	SystemPIN epurse.SystemPINSource
}

// POS is the purchase engine of one terminal with one reader: it runs one
// tap at a time (HandleCard, CancelLast and the metered sessions are
// serialised by a mutex).
type POS struct {
	store   Store
	sam     epurse.SAM
	display ui.Display
	keypad  ui.Keypad
	buzzer  ui.Buzzer
	now     func() time.Time
	loc     *time.Location
	cfg     config.POS
	pol     policy.POS
	rules   func() *protocol.Rules
	aids    [][]byte
	log     *slog.Logger
	cashier cashierGate // the cashier's PIN and lockout, for CancelLast (pos_cancel.go)
	holds   *hold.Holds

	mu sync.Mutex
	// usage is the per-card state the policy needs (repeat guard, today's
	// total, meal uses), rebuilt from today's journal by Startup.
	usage map[string]policy.Usage
	// last is the last completed sale, for CancelLast.
	last *lastSale
	// sessions are the metered (shower) sessions by card number.
	sessions map[string]*session
	// handOff are intents recovery could not settle from the card (it was
	// used elsewhere since): left uncertain for the ledger, not retried.
	handOff map[uint64]bool
	// unclaimed are sales recovery found completed that no tap has shown
	// as paid yet, by card number: the customer's retry is matched against
	// them (recoveredSale, a metered session's torn debit) even when the
	// tap that recovered them ended before it could show them (the card
	// left, the cashier cancelled the entry), so it is not charged again.
	unclaimed map[string][]offline.Intent
	// shown are sales shown paid and booked whose completion failed to
	// commit (the intent stays open): when recovery completes one it is
	// neither the customer's retry nor counted again.
	shown map[uint64]bool
	// unbooked is the completion of the sale this tap paid, committed
	// after its result is shown (HandleCard): the intent is durable and
	// the card holds the outcome, so the customer does not wait for it.
	unbooked *unbooked
	// tm accumulates the tap's Timing (HandleCard resets it).
	tm Timing

	// engine is the claim engine (claim.go); claiming is set when the
	// POS claims before the sale (a ledger, pos.claim_loads, a system
	// PIN source); claimsDown when the ledger last did not answer a
	// claim in time (logged once per change).
	engine     *load.Engine
	claiming   bool
	claimsDown bool
}

// unbooked is a paid sale's completion waiting for its commit.
type unbooked struct {
	id uint64
	c  offline.Completion
}

// Default windows when the configuration leaves them zero.
const (
	DefaultCancelWindow = 2 * time.Minute
	DefaultRetryWindow  = 2 * time.Minute
	DefaultMaxSession   = 30 * time.Minute
	DefaultPINTimeout   = 30 * time.Second
)

// NewPOS returns a POS. It does not touch the store: call Startup before the
// first tap.
func New(opts Options) (*POS, error) {
	if opts.Store == nil || opts.SAM == nil || opts.Display == nil {
		return nil, fmt.Errorf("pos: new: store, SAM and display are required")
	}
	cfg := opts.Config
	switch cfg.Mode {
	case config.ModeKeyed, config.ModeFixed, config.ModePerUse, config.ModeMetered:
	default:
		return nil, fmt.Errorf("pos: new: mode %q: want keyed, fixed, per_use or metered", cfg.Mode)
	}
	if cfg.KeyIndex < 0 || cfg.KeyIndex > 255 {
		return nil, fmt.Errorf("pos: new: key index %d: want 1..255", cfg.KeyIndex)
	}
	if cfg.CancelWindow == 0 {
		cfg.CancelWindow = config.Duration(DefaultCancelWindow)
	}
	if cfg.RetryWindow == 0 {
		cfg.RetryWindow = config.Duration(DefaultRetryWindow)
	}
	if cfg.MaxSession == 0 {
		cfg.MaxSession = config.Duration(DefaultMaxSession)
	}
	if cfg.PINTimeout == 0 {
		cfg.PINTimeout = config.Duration(DefaultPINTimeout)
	}
	p := &POS{
		store: opts.Store, sam: opts.SAM, display: opts.Display, keypad: opts.Keypad, buzzer: opts.Buzzer,
		now: opts.Now, loc: opts.Location, cfg: cfg, rules: opts.Rules, aids: opts.AIDs, log: opts.Logger, holds: opts.Holds,
		usage: map[string]policy.Usage{}, sessions: map[string]*session{}, handOff: map[uint64]bool{},
		unclaimed: map[string][]offline.Intent{}, shown: map[uint64]bool{},
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.loc == nil {
		p.loc = time.Local
	}
	if p.rules == nil {
		p.rules = func() *protocol.Rules { return nil }
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.holds == nil {
		p.holds = hold.NewHolds(p.now, 0)
	}
	p.pol = PolicyOf(cfg, p.loc)
	if cfg.ClaimTimeout == 0 {
		p.cfg.ClaimTimeout = config.Duration(config.DefaultClaimTimeout)
	}
	if err := p.newEngine(opts, p.cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// PolicyOf maps the POS section of the configuration to the policy's
// device settings.
func PolicyOf(c config.POS, loc *time.Location) policy.POS {
	return policy.POS{
		Mode: c.Mode, PriceFen: c.PriceFen, PriceCode: c.PriceCode, MinBalanceFen: c.MinBalanceFen,
		PINLimitFen: c.PINLimitFen, DailyLimitFen: c.DailyLimitFen, RepeatGuard: c.RepeatGuard.D(),
		MaxSaleFen: c.MaxSaleFen, Location: loc,
	}
}

// Outcome is what became of a tap.
type Outcome int

// Outcomes of HandleCard and CancelLast.
const (
	// Paid: the card was debited (Result.Amount, Result.Balance).
	Paid Outcome = iota + 1
	// Refused: nothing was debited; Result.Code says why.
	Refused
	// TapAgain: the card left or failed during the sale; if DEBIT was sent
	// the intent is uncertain and is resolved when the card returns.
	TapAgain
	// SessionStarted: a metered session began; the card taps again to stop.
	SessionStarted
	// Cancelled: the cashier reversed the last sale (CancelLast).
	Cancelled
)

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case Paid:
		return "paid"
	case Refused:
		return "refused"
	case TapAgain:
		return "tap-again"
	case SessionStarted:
		return "session-started"
	case Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is what a tap did, and what the display showed.
type Result struct {
	Outcome Outcome
	Code    policy.Code // policy.CodeOK when paid, else the reason
	Message ui.Message
	CardNo  string
	Amount  int64 // fen charged (Paid, Cancelled) or authorised (SessionStarted)
	Balance int64 // fen on the card after the sale, when known
	// IntentID is the journal sequence of the sale's intent record.
	IntentID uint64
	// Recovered: the sale was a torn one of this card that recovery found
	// completed; it was not charged again.
	Recovered bool
	// Loaded is what the claim before the sale loaded onto the card
	// (fen; Balance is after it and the sale), LoadID the ledger's load
	// (or the torn load the tap found credited, or left uncertain).
	Loaded int64
	LoadID string
	// Timing is where the tap's time went, for the metrics.
	Timing Timing

	// evidence is the purchase-refused record a refusal leaves in the
	// journal (journaled after the display showed it).
	evidence *protocol.Record
}

// Timing is where one tap's time went (wall time, monotonic clock): Card
// is the card and PSAM exchanges of the read and the purchase, Decision the
// holds, status-list lookup and policy, Commit the store's commits on the
// tap's path (the intent, the completion, a refusal's evidence; each an
// fsync). Total is the whole tap; what the three leave is the display, the
// keypad, recovery of a torn sale and the claim before the sale.
type Timing struct {
	Total, Card, Decision, Commit time.Duration
}

// HandleCard runs one tap (DESIGN.md 3.1). amount is the cashier's amount
// in keyed mode (0: read it from the keypad now); the other modes take
// their price from the configuration and rules and ignore it. The returned
// error reports a terminal fault (store, SAM) that the daemon should raise;
// the Result is valid either way and was shown on the display.
func (p *POS) HandleCard(ctx context.Context, card reader.Card, amount int64) (Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	p.tm = Timing{}
	res, err := p.handle(ctx, card, amount)
	p.show(ctx, res.Message)
	p.beep(res.Outcome)
	c := time.Now()
	if cerr := p.book(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if jerr := p.journalRefusal(res.evidence); jerr != nil {
		err = errors.Join(err, jerr)
	}
	p.tm.Commit += time.Since(c)
	res.evidence = nil
	res.Timing, res.Timing.Total = p.tm, time.Since(start)
	p.log.Info("pos: tap", "card", res.CardNo, "outcome", res.Outcome.String(), "code", res.Code.String(),
		"amount", res.Amount, "balance", res.Balance, "intent", res.IntentID, "recovered", res.Recovered)
	if err != nil {
		p.log.Error("pos: tap failed", "card", res.CardNo, "err", err)
	}
	return res, err
}

func (p *POS) handle(ctx context.Context, card reader.Card, amount int64) (Result, error) {
	t := time.Now()
	info, err := cardread.Read(ctx, card, p.aids)
	if err == nil {
		err = cardread.ReadCampus(ctx, card, &info)
	}
	p.tm.Card += time.Since(t)
	if err != nil {
		switch {
		case errors.Is(err, cardread.ErrNoPurse):
			return refused("", CodeNoPurse), nil
		case errors.Is(err, epurse.ErrAppBlocked):
			p.log.Info("pos: the card's application is blocked", "card", info.CardNo, "err", err)
			r := refused(info.CardNo, policy.CodeAppBlocked)
			if info.CardNo != "" {
				r.evidence = refusalRecord(info, policy.CodeAppBlocked, amount)
			}
			return r, nil
		}
		p.log.Warn("pos: card not read", "err", err)
		return tapAgain("", CodeCardUnreadable), nil
	}
	if info.Campus == nil {
		p.log.Debug("pos: no campus data on the card: the terminal's limits apply", "card", info.CardNo, "reason", info.CampusErr)
	}
	done, ok, err := p.resolveCard(ctx, card, &info)
	if err != nil || !ok {
		r := tapAgain(info.CardNo, CodeCardUnreadable)
		if err != nil {
			r = refused(info.CardNo, CodeStoreFault)
		}
		return r, err
	}
	got, r, stop, cerr := p.claimFirst(ctx, card, &info)
	if stop {
		return r, cerr
	}
	res, err := p.sale(ctx, card, info, amount, done)
	res.Loaded, res.LoadID = got.amount, got.loadID
	return res, errors.Join(cerr, err)
}

// sale is the tap's sale (or metered session step) once the card's
// intents are settled and its claim, if any, loaded.
func (p *POS) sale(ctx context.Context, card reader.Card, info cardread.Info, amount int64, done []offline.Intent) (Result, error) {
	var err error
	if p.cfg.Mode == config.ModeMetered {
		return p.metered(ctx, card, info, done)
	}
	list := amount
	if p.cfg.Mode == config.ModeKeyed && list <= 0 {
		if p.keypad == nil {
			return refused(info.CardNo, policy.CodeInvalidAmount), nil
		}
		list, err = p.keypad.ReadAmount(ctx)
		if err != nil {
			return refused(info.CardNo, CodeEntryCancelled), nil
		}
	}
	if priced, ok := p.price(list, info.Public.CardClass); ok {
		if r, ok := p.recoveredSale(info, done, priced); ok {
			return r, nil
		}
	}
	return p.sell(ctx, card, info, list)
}

// sell decides and, if allowed, pays a sale of list price list.
func (p *POS) sell(ctx context.Context, card reader.Card, info cardread.Info, list int64) (Result, error) {
	now := p.now()
	t := time.Now()
	if r, held, err := p.held(info, now, p.asked(list, info)); held || err != nil {
		p.tm.Decision += time.Since(t)
		return r, err
	}
	d, err := p.decide(info, list, now)
	p.tm.Decision += time.Since(t)
	if err != nil {
		return refused(info.CardNo, CodeStoreFault), err
	}
	if !d.Allow {
		return refusedBy(info, d, p.asked(list, info)), nil
	}
	if d.NeedPIN {
		if r, ok := p.checkPIN(ctx, card, info, d.Amount); !ok {
			return r, nil
		}
	}
	res, err := p.pay(ctx, card, info, d.Amount)
	if res.Outcome == Paid {
		p.booked(info.CardNo, d, res, now)
	}
	return res, err
}

// asked is the amount a sale of list price list asks of the card: the
// price for its class, or list when there is none.
func (p *POS) asked(list int64, info cardread.Info) int64 {
	if priced, ok := p.price(list, info.Public.CardClass); ok {
		return priced
	}
	return list
}

// held returns the refusal of a sale of list while a money hold is on
// (no status list, offline too long, revoked, chain broken), journaled as
// evidence: the ledger learns which cards came to a terminal that could
// not take them. While no status list is known it asks the store, so that
// a list applied since (by the sync client, or a tool) lifts that hold at
// the next tap.
func (p *POS) held(info cardread.Info, now time.Time, list int64) (Result, bool, error) {
	if err := p.knowStatusList(); err != nil {
		return refused(info.CardNo, CodeStoreFault), false, err
	}
	h, on := p.holds.Money(now)
	if !on {
		return Result{}, false, nil
	}
	r := Result{Outcome: Refused, Code: h.Code, Message: h.Message, CardNo: info.CardNo, Balance: info.Balance}
	r.evidence = refusalRecord(info, h.Code, list)
	return r, true, nil
}

// knowStatusList tells the holds, while they know of no status list,
// whether the store holds one now (applied since by the sync client, or
// a tool).
func (p *POS) knowStatusList() error {
	if p.holds.StatusList() {
		return nil
	}
	si, err := p.store.StatusInfo()
	if err != nil {
		return fmt.Errorf("pos: status list: %w", err)
	}
	if si.Version > 0 {
		p.holds.SetStatusList(true)
	}
	return nil
}

// decide asks the policy about a sale of list price list on this card now.
func (p *POS) decide(info cardread.Info, list int64, now time.Time) (policy.Decision, error) {
	e, listed, err := p.store.Lookup(info.CardNo)
	if err != nil {
		return policy.Decision{}, fmt.Errorf("pos: status lookup: %w", err)
	}
	var reason offline.Reason
	if listed {
		reason = e.Reason
	}
	card := info.Policy()
	var version uint64
	if listed && card.StatusListVersion > 0 {
		// Only then does the list's version matter (a list older than
		// the card's 解挂 does not decide): no read for other taps.
		si, err := p.store.StatusInfo()
		if err != nil {
			return policy.Decision{}, fmt.Errorf("pos: status list: %w", err)
		}
		version = si.Version
	}
	return policy.DecidePOS(policy.POSInput{
		Card: card, Listed: reason, ListVersion: version, Device: p.pol, Rules: p.rules(),
		Usage: p.usage[info.CardNo], Amount: list, Now: now,
	}), nil
}

// booked records a completed sale in the per-card usage and as the last
// sale the cashier may cancel.
func (p *POS) booked(cardNo string, d policy.Decision, res Result, at time.Time) {
	d.Amount = res.Amount
	p.usage[cardNo] = p.usage[cardNo].Add(d, at, p.loc)
	p.last = &lastSale{IntentID: res.IntentID, CardNo: cardNo, Amount: res.Amount, At: at}
}

func (p *POS) show(ctx context.Context, m ui.Message) {
	if err := p.display.Show(ctx, m); err != nil {
		p.log.Warn("pos: display", "err", err)
	}
}

// beep sounds the outcome: one beep for a sale or a started session, the
// refusal beeps otherwise.
func (p *POS) beep(o Outcome) {
	if p.buzzer == nil {
		return
	}
	if err := p.buzzer.Beep(o == Paid || o == SessionStarted || o == Cancelled); err != nil {
		p.log.Warn("pos: buzzer", "err", err)
	}
}

// refusedBy is the result of a policy refusal of a sale asking asked, with
// the balance shown where it explains the refusal, and the evidence to
// journal when the refusal is one (journaledRefusal).
func refusedBy(info cardread.Info, d policy.Decision, asked int64) Result {
	r := Result{Outcome: Refused, Code: d.Code, CardNo: info.CardNo, Balance: info.Balance}
	r.Message = policyMessage(d.Code, d.Message)
	if d.Code == policy.CodeInsufficient || d.Code == policy.CodeMinBalance {
		r.Message.Balance, r.Message.HasBalance = info.Balance, true
	}
	if journaledRefusal(d.Code) {
		r.evidence = refusalRecord(info, d.Code, asked)
	}
	return r
}

func refused(cardNo string, c policy.Code) Result {
	return Result{Outcome: Refused, Code: c, Message: message(c), CardNo: cardNo}
}

func tapAgain(cardNo string, c policy.Code) Result {
	return Result{Outcome: TapAgain, Code: c, Message: message(c), CardNo: cardNo}
}
