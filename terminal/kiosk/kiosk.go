package kiosk

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
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

// Ledger is the kiosk's online link to the ledger; *syncclient.Client
// implements it. Each call signs its request with the device key; the
// ledger answers InitLoad and ConfirmLoad idempotently, so a call may be
// repeated after a network failure. Claims tells the refusal a load would
// get before the card is touched; Pending lists the single loads of a
// card without an account.
type Ledger interface {
	load.Ledger
	load.Lister
}

// SAM is what a load needs of the kiosk's PSAM: the terminal id sent in
// INITIALIZE FOR LOAD and the card's system PIN, which opens the load on
// the card (DESIGN.md 4, the two-PIN model). *sam.Software and the PC/SC
// PSAM implement it.
type SAM interface {
	load.SAM
}

// Store is what the kiosk needs of the offline store; *offline.Store
// implements it. It is an interface so that tests cut the power at a
// chosen commit.
type Store interface {
	load.Store
}

var _ Store = (*offline.Store)(nil)

// Options configure a Kiosk. Store, Ledger, SAM and Display are required.
type Options struct {
	Store   Store
	Ledger  Ledger
	SAM     SAM
	Display ui.Display
	// Buzzer, if set, beeps the outcome of each card.
	Buzzer ui.Buzzer
	// Now is the clock (the time CREDIT FOR LOAD carries); nil means
	// time.Now.
	Now func() time.Time
	// Location is the device time zone of the card's date and time; nil
	// means time.Local.
	Location *time.Location
	// Config is the kiosk section of the configuration; zero fields take
	// its defaults.
	Config config.Kiosk
	// AIDs are the e-purse applications to select; nil means
	// cardread.DefaultAIDs.
	AIDs [][]byte
	// Logger receives the technician's log; nil discards it.
	Logger *slog.Logger
	// Holds, if set, are the terminal's holds: a claim is refused while a
	// revoked device or a broken journal chain holds it (hold.Holds.Kiosk).
	Holds *hold.Holds
}

// Kiosk claims the money waiting at the ledger onto the card in its
// reader, one card at a time.
type Kiosk struct {
	store   Store
	ledger  Ledger
	sam     SAM
	display ui.Display
	buzzer  ui.Buzzer
	now     func() time.Time
	loc     *time.Location
	cfg     config.Kiosk
	aids    [][]byte
	log     *slog.Logger
	holds   *hold.Holds

	mu sync.Mutex
	// shown is the message the display shows since the card's claim
	// began (mu), so that the outcome is not shown twice.
	shown ui.Message
	// engine is the claim engine the kiosk runs each card through; it
	// holds the load intents the kiosk gave up on (mu serialises it).
	engine *load.Engine
}

// New returns a Kiosk. Call Startup before the first card.
func New(opts Options) (*Kiosk, error) {
	if opts.Store == nil || opts.Ledger == nil || opts.SAM == nil || opts.Display == nil {
		return nil, errors.New("kiosk: new: store, ledger, SAM and display are required")
	}
	cfg := opts.Config
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kiosk: new: %w", err)
	}
	k := &Kiosk{
		store: opts.Store, ledger: opts.Ledger, sam: opts.SAM, display: opts.Display, buzzer: opts.Buzzer,
		now: opts.Now, loc: opts.Location, cfg: cfg, aids: opts.AIDs, log: opts.Logger, holds: opts.Holds,
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.loc == nil {
		k.loc = time.Local
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	e, err := load.New(load.Options{Store: k.store, Ledger: k.ledger, Lister: k.ledger, SAM: k.sam, Show: k.show,
		Now: k.now, Location: k.loc, KeyIndex: cfg.KeyIndex, MaxBalanceFen: cfg.MaxBalanceFen,
		LedgerTimeout: cfg.LedgerTimeout.D(), Logger: k.log})
	if err != nil {
		return nil, fmt.Errorf("kiosk: new: %w", err)
	}
	k.engine = e
	return k, nil
}

// Outcome is what became of a card at the kiosk.
type Outcome int

// Outcomes of HandleCard.
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

// MarshalText writes the outcome's name (the control interface's JSON).
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for _, c := range []Outcome{Loaded, Nothing, Refused, TapAgain} {
		if c.String() == string(b) {
			*o = c
			return nil
		}
	}
	return fmt.Errorf("kiosk: outcome %q", b)
}

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

// Result is what a card at the kiosk did, and what the display showed.
type Result struct {
	Outcome Outcome    `json:"outcome"`
	Code    ui.Code    `json:"code"`
	Message ui.Message `json:"-"` // the control interface answers it as text
	CardNo  string     `json:"card,omitempty"`
	Amount  int64      `json:"amount"`            // fen credited (Loaded)
	Balance int64      `json:"balance,omitempty"` // fen on the card, when known
	// LoadID is the ledger's load (Loaded, or the torn one).
	LoadID string `json:"load,omitempty"`
	// Recovered: the credit was a torn load's, found by recovery.
	Recovered bool `json:"recovered,omitempty"`
	// Refusal is the ledger's refusal code behind Code, when the ledger
	// refused (0 otherwise).
	Refusal protocol.Code `json:"refusal,omitempty"`
}

// HandleCard claims, for the card in the field, the money waiting at the
// ledger (all of it that fits under the purse limit), after settling any
// torn load of this card first. The Result was shown on the display; the
// error reports a terminal fault (store, SAM) the daemon should raise.
func (k *Kiosk) HandleCard(ctx context.Context, card reader.Card) (Result, error) {
	return k.Claim(ctx, card, 0)
}

// Claim is HandleCard for a chosen amount (fen): one of the loads waiting
// for the card, or their total; 0 means all that fits under the purse
// limit.
func (k *Kiosk) Claim(ctx context.Context, card reader.Card, amount int64) (Result, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.shown = ui.Message{}
	res, err := k.handle(ctx, card, amount)
	if res.Message != k.shown { // the engine showed a credit before the ledger's round trip
		k.show(ctx, res.Message)
	}
	k.beep(res.Outcome == Loaded)
	k.log.Info("kiosk: card", "card", res.CardNo, "outcome", res.Outcome.String(), "code", string(res.Code),
		"amount", res.Amount, "balance", res.Balance, "load", res.LoadID, "recovered", res.Recovered)
	if err != nil {
		k.log.Error("kiosk: card failed", "card", res.CardNo, "err", err)
	}
	return res, err
}

func (k *Kiosk) handle(ctx context.Context, card reader.Card, amount int64) (Result, error) {
	info, err := cardread.Read(ctx, card, k.aids)
	if err != nil {
		if errors.Is(err, cardread.ErrNoPurse) {
			return refused("", CodeNoPurse), nil
		}
		k.log.Warn("kiosk: card not read", "err", err)
		return tapAgain("", CodeTapAgain), nil
	}
	if k.holds != nil {
		// The kiosk is online: the ledger decides on the card and its
		// account, so the holds of an offline list (none yet, too old) do
		// not stop it; a revoked device or a broken journal does.
		if h, on := k.holds.Kiosk(k.now()); on {
			return Result{Outcome: Refused, Code: ui.Code(h.Code), Message: h.Message, CardNo: info.CardNo, Balance: info.Balance}, nil
		}
	}
	r, done, err := k.resolveCard(ctx, card, &info)
	if err != nil || done {
		return r, err
	}
	return k.claim(ctx, card, info, amount)
}

func (k *Kiosk) show(ctx context.Context, m ui.Message) {
	k.shown = m
	if err := k.display.Show(ctx, m); err != nil {
		k.log.Warn("kiosk: display", "err", err)
	}
}

func (k *Kiosk) beep(ok bool) {
	if k.buzzer == nil {
		return
	}
	if err := k.buzzer.Beep(ok); err != nil {
		k.log.Warn("kiosk: buzzer", "err", err)
	}
}

func refused(cardNo string, c ui.Code) Result {
	return Result{Outcome: Refused, Code: c, Message: message(c), CardNo: cardNo}
}

func tapAgain(cardNo string, c ui.Code) Result {
	return Result{Outcome: TapAgain, Code: c, Message: message(c), CardNo: cardNo}
}
