package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/ui"
)

// Ledger is the device's online link to the ledger for loads;
// *syncclient.Client implements it. Each call signs its request with the
// device key; the ledger answers InitLoad and ConfirmLoad idempotently, so
// a call may be repeated after a network failure.
type Ledger interface {
	// Claims asks what the card's account holds for loading, what of it
	// fits on a card of balance cardBalance, and the refusal a load
	// would get now.
	Claims(ctx context.Context, cardNo string, cardBalance int64) (protocol.Claims, error)
	// InitLoad sends the card's INITIALIZE FOR LOAD answer and returns
	// the ledger's MAC2 (the money is then authorised for this session).
	InitLoad(ctx context.Context, m protocol.LoadInit) (protocol.LoadInitResponse, error)
	// ConfirmLoad reports the card's TAC after the credit.
	ConfirmLoad(ctx context.Context, m protocol.LoadConfirm) (protocol.LoadConfirmResponse, error)
}

// Lister lists the single loads waiting for a card that has no account
// (money from before accounts); *syncclient.Client implements it. With
// it a claim chooses among them (the oldest that fits under the purse
// limit when their total does not); without it a claim takes the total.
type Lister interface {
	Pending(ctx context.Context, cardNo string) (protocol.Pending, error)
}

// SAM is what a load needs of the device's PSAM: the terminal id sent in
// INITIALIZE FOR LOAD and the card's system PIN, which opens the load on
// the card (DESIGN.md 4, the two-PIN model). *sam.Software, *sam.Slot
// (the PC/SC PSAM) and *sam.CardSAM implement it.
type SAM interface {
	TerminalID(ctx context.Context) ([6]byte, error)
	epurse.SystemPINSource
}

// Store is what a load needs of the offline store; *offline.Store
// implements it. It is an interface so that tests cut the power at a
// chosen commit.
type Store interface {
	BeginLoad(p offline.LoadIntent) (offline.Load, error)
	AuthorizeLoad(id uint64, loadID string, mac2 []byte) (offline.Load, error)
	DropLoad(id uint64) error
	CompleteLoad(id uint64, c offline.LoadCompletion) (uint64, error)
	SettleLoad(id uint64) error
	MarkLoadUncertain(id uint64, reason string) error
	VoidLoad(id uint64, reason string) error
	Loads() ([]offline.Load, error)
}

var _ Store = (*offline.Store)(nil)

// Options configure an Engine. Store and SAM are required; without
// Ledger the engine settles its torn loads from the card but confirms
// nothing and claims nothing (ErrNoLedger).
type Options struct {
	Store  Store
	Ledger Ledger
	// Lister, if set, lists the single loads of a card without an
	// account (see Lister).
	Lister Lister
	SAM    SAM
	// Show, if set, shows the credit as soon as the card holds it,
	// before the ledger's confirmation round trip.
	Show func(ctx context.Context, m ui.Message)
	// Now is the clock (the time CREDIT FOR LOAD carries); nil means
	// time.Now.
	Now func() time.Time
	// Location is the device time zone of the card's date and time; nil
	// means time.Local.
	Location *time.Location
	// KeyIndex is the load key (DLK) index sent in INITIALIZE FOR LOAD
	// (1..255; 0 means 1).
	KeyIndex int
	// MaxBalanceFen is the device's own purse limit: a claim that would
	// take the card above it is narrowed or refused before the card is
	// asked. 0: none (the ledger's Claimable and the card's own limit
	// decide).
	MaxBalanceFen int64
	// LedgerTimeout bounds each InitLoad, ConfirmLoad and Pending; 0
	// means DefaultLedgerTimeout.
	LedgerTimeout time.Duration
	// ClaimsTimeout bounds the Claims question (a POS asks it under a
	// hard deadline: a slow ledger means it sells); 0 means
	// LedgerTimeout.
	ClaimsTimeout time.Duration
	// Logger receives the technician's log; nil discards it.
	Logger *slog.Logger
}

// DefaultLedgerTimeout bounds a request to the ledger when Options leave
// it zero.
const DefaultLedgerTimeout = 3 * time.Second

// ErrNoLedger is the error of a claim on an engine without a ledger link.
var ErrNoLedger = errors.New("load: no ledger link")

// Engine claims, one card at a time, the money waiting at the ledger
// onto the card, and settles the load intents a torn claim left.
type Engine struct {
	store         Store
	ledger        Ledger
	lister        Lister
	sam           SAM
	show          func(context.Context, ui.Message)
	now           func() time.Time
	loc           *time.Location
	keyIndex      byte
	maxBalance    int64
	ledgerTimeout time.Duration
	claimsTimeout time.Duration
	log           *slog.Logger

	// handOff are load intents this device cannot settle (the card cannot
	// tell, or the ledger refused the confirmation): left for the service
	// desk, not retried by this process.
	handOff map[uint64]bool
}

// New returns an Engine. Call Startup before the first card.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.SAM == nil {
		return nil, errors.New("load: new: store and SAM are required")
	}
	if opts.KeyIndex < 0 || opts.KeyIndex > 255 || opts.MaxBalanceFen < 0 || opts.MaxBalanceFen > 0xFFFFFFFF ||
		opts.LedgerTimeout < 0 || opts.ClaimsTimeout < 0 {
		return nil, fmt.Errorf("load: new: key index %d, max balance %d, timeouts %s %s out of range",
			opts.KeyIndex, opts.MaxBalanceFen, opts.LedgerTimeout, opts.ClaimsTimeout)
	}
	e := &Engine{
		store: opts.Store, ledger: opts.Ledger, lister: opts.Lister, sam: opts.SAM, show: opts.Show, now: opts.Now,
		loc: opts.Location, keyIndex: byte(opts.KeyIndex), maxBalance: opts.MaxBalanceFen,
		ledgerTimeout: opts.LedgerTimeout, claimsTimeout: opts.ClaimsTimeout, log: opts.Logger,
		handOff: map[uint64]bool{},
	}
	if e.keyIndex == 0 {
		e.keyIndex = 1
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.loc == nil {
		e.loc = time.Local
	}
	if e.ledgerTimeout == 0 {
		e.ledgerTimeout = DefaultLedgerTimeout
	}
	if e.claimsTimeout == 0 {
		e.claimsTimeout = e.ledgerTimeout
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.show == nil {
		e.show = func(context.Context, ui.Message) {}
	}
	return e, nil
}

// Outcome is what became of a card's claim.
type Outcome int

// Outcomes of a claim.
const (
	// Loaded: the card was credited (Result.Amount, Result.Balance), by
	// this claim or by a torn one that recovery found credited.
	Loaded Outcome = iota + 1
	// Nothing: no money waits for the card; nothing moved.
	Nothing
	// Refused: nothing was credited; Result.Code says why.
	Refused
	// TapAgain: the card left or failed; a load whose CREDIT was sent is
	// uncertain and is resolved when the card returns.
	TapAgain
)

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case Loaded:
		return "loaded"
	case Nothing:
		return "nothing"
	case Refused:
		return "refused"
	case TapAgain:
		return "tap-again"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is what a claim (or the recovery of a torn one) did, and the
// message to show.
type Result struct {
	Outcome Outcome
	Code    ui.Code
	Message ui.Message
	CardNo  string
	Amount  int64 // fen credited (Loaded)
	Balance int64 // fen on the card, when known
	// LoadID is the ledger's load (Loaded, or the torn one).
	LoadID string
	// Recovered: the credit was a torn load's, found by recovery.
	Recovered bool
	// Refusal is the ledger's refusal code behind Code, when the ledger
	// refused (0 otherwise).
	Refusal protocol.Code
}

// Startup prepares the engine after a start: it logs the load intents a
// previous run left, marks uncertain those still open (CREDIT FOR LOAD
// may have been sent before the stop), and confirms with the ledger the
// credited ones (a failure to reach it is logged: the next card or
// Confirm tries again). Each uncertain load is resolved when its card
// returns.
func (e *Engine) Startup(ctx context.Context) error {
	ls, err := e.store.Loads()
	if err != nil {
		return fmt.Errorf("load: startup: %w", err)
	}
	for _, l := range ls {
		e.log.Warn("load: intent waiting", "load", l.LoadID, "intent", l.ID, "card", l.CardNo, "amount", l.Amount,
			"state", l.State.String(), "opened", l.Opened)
		if l.State != offline.LoadOpen {
			continue
		}
		if err := e.store.MarkLoadUncertain(l.ID, "restart"); err != nil {
			return fmt.Errorf("load: startup: mark load %d uncertain: %w", l.ID, err)
		}
	}
	if err := e.confirmAll(ctx, ""); err != nil {
		return fmt.Errorf("load: startup: %w", err)
	}
	if err := e.settleStale(ctx); err != nil {
		return fmt.Errorf("load: startup: %w", err)
	}
	return nil
}

// Confirm reports to the ledger every credited load it has not confirmed
// yet, and asks it what became of the loads left uncertain for longer
// than StaleAfter (their card went elsewhere). It returns a store
// failure; an unreachable ledger is logged and tried again later.
func (e *Engine) Confirm(ctx context.Context) error {
	if err := e.confirmAll(ctx, ""); err != nil {
		return err
	}
	return e.settleStale(ctx)
}

// confirmAll confirms the credited loads (of cardNo, or all).
func (e *Engine) confirmAll(ctx context.Context, cardNo string) error {
	if e.ledger == nil {
		return nil
	}
	ls, err := e.store.Loads()
	if err != nil {
		return fmt.Errorf("load: loads: %w", err)
	}
	for _, l := range ls {
		if l.State != offline.LoadCredited || (cardNo != "" && l.CardNo != cardNo) || e.handOff[l.ID] {
			continue
		}
		if err := e.confirm(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// confirm reports a credited load's TAC to the ledger and, once the
// ledger took it, removes the intent. Only a store failure is returned.
func (e *Engine) confirm(ctx context.Context, l offline.Load) error {
	if e.ledger == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, e.ledgerTimeout)
	resp, err := e.ledger.ConfirmLoad(lctx, protocol.LoadConfirm{LoadID: l.LoadID, CardNo: l.CardNo,
		OnlineCounter: uint16(l.CardCounter), TAC: l.TAC, BalanceAfter: l.BalanceAfter})
	cancel()
	var pe *protocol.Error
	switch {
	case err == nil && resp.State == protocol.LoadCompleted:
	case err == nil:
		e.log.Error("load: the ledger did not complete a credited load: left for the service desk",
			"load", l.LoadID, "card", l.CardNo, "state", resp.State.String())
		e.handOff[l.ID] = true
		return nil
	case errors.As(err, &pe):
		// A verdict, not an outage: the TAC does not verify, or the ledger
		// knows no such authorisation. The load record carries the TAC to
		// the ledger with the journal; the service desk settles it.
		e.log.Error("load: the ledger refused a load's confirmation: left for the service desk",
			"load", l.LoadID, "card", l.CardNo, "err", err)
		e.handOff[l.ID] = true
		return nil
	default:
		e.log.Warn("load: not confirmed yet: the ledger did not answer", "load", l.LoadID, "card", l.CardNo, "err", err)
		return nil
	}
	if err := e.store.SettleLoad(l.ID); err != nil {
		return fmt.Errorf("load: settle load %d: %w", l.ID, err)
	}
	return nil
}

func refused(cardNo string, c ui.Code) Result {
	return Result{Outcome: Refused, Code: c, Message: Message(c), CardNo: cardNo}
}

func tapAgain(cardNo string, c ui.Code) Result {
	return Result{Outcome: TapAgain, Code: c, Message: Message(c), CardNo: cardNo}
}

// withBalance is r showing the card's balance.
func withBalance(r Result, balance int64) Result {
	r.Balance = balance
	r.Message.Balance, r.Message.HasBalance = balance, true
	return r
}
