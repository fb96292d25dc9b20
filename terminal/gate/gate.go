package gate

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/hold"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
)

// Store is what a gate needs of the offline store; *offline.Store
// implements it.
type Store interface {
	Lookup(cardNo string) (offline.StatusEntry, bool, error)
	Append(r protocol.Record) (uint64, error)
	SeenNonce(nonce []byte, expires time.Time) (bool, error)
	// StatusInfo tells whether a status list is held (Version > 0): a
	// gate passes no card before.
	StatusInfo() (offline.StatusInfo, error)
}

var _ Store = (*offline.Store)(nil)

// QRVerifier checks a campus QR token's signature against the issuer keys
// of the signed rules and returns its claims (protocol.VerifyQRToken).
type QRVerifier func(text string, issuers []protocol.IssuerKey, now time.Time) (protocol.QRClaims, error)

// Options configure a Gate. Store, Board and Display are required.
type Options struct {
	Store   Store
	Board   *board.Board
	Display ui.Display
	// Keypad reads the card PIN when a door asks for a second factor; nil
	// refuses such doors' passes.
	Keypad ui.Keypad
	// Buzzer, if set, beeps the outcome.
	Buzzer ui.Buzzer
	// Config is the gate section of the device configuration.
	Config config.Gate
	// Rules returns the signed rules held, or nil (the gate fails closed).
	Rules func() *protocol.Rules
	// VerifyQR checks campus QR tokens; nil refuses every QR code.
	VerifyQR QRVerifier
	// Now is the clock; nil means time.Now. After schedules the passage
	// window and the held-open alarm; nil means time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Location is the device time zone; nil means time.Local.
	Location *time.Location
	// AIDs are the e-purse applications a card is read with; nil means DefaultAIDs.
	AIDs   [][]byte
	Logger *slog.Logger
	// Holds are the terminal's holds, shared with the daemon; nil gives
	// the gate its own, which know only whether the store holds a status
	// list.
	Holds *hold.Holds
}

// Gate runs the gate flow of DESIGN.md 3.2 for one turnstile or door:
// credential → kind accepted → status list → validity → rules (groups, time
// profiles, holidays) → second factor → anti-passback → relay pulse →
// passage or timeout → journal. Alarms (fire, forced and held open,
// tamper) are watched by Run.
type Gate struct {
	opts Options
	cfg  config.Gate
	pol  policy.Gate
	now  func() time.Time
	// after is the timer source for the passage window and held-open alarm.
	after func(time.Duration) <-chan time.Time
	log   *slog.Logger

	// tap serialises credentials: one pass at a time through one lane.
	tap sync.Mutex

	mu        sync.Mutex
	passback  map[string]policy.Passback
	emergency bool
	// waiting receives the passage edges while a granted pass waits.
	waiting chan board.Edge
	// granted is set while a pass is granted and not yet taken: the door
	// contact opening then is expected, not forced.
	granted bool

	ready     chan struct{}
	readyOnce sync.Once
}

// Outcome is what became of a credential at the gate.
type Outcome int

// Gate outcomes.
const (
	Passed   Outcome = iota + 1 // granted and the passage sensor saw the pass
	NotTaken                    // granted, but nobody passed within the window
	Denied                      // refused: Result.Code says why
)

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case Passed:
		return "passed"
	case NotTaken:
		return "not-taken"
	case Denied:
		return "denied"
	}
	return fmt.Sprintf("gate-outcome(%d)", int(o))
}

// Result is what a credential did at the gate.
type Result struct {
	Outcome   Outcome
	Code      policy.Code
	Message   ui.Message
	Kind      string // credential kind
	ID        string // card number, UID, QR subject or recogniser id
	Direction policy.Direction
	Seq       uint64 // journal record of the outcome
	// Relay is the relay this credential pulsed ("" when none was).
	Relay string
}

// NewGate returns a gate. Call Run to watch the alarm inputs.
func New(opts Options) (*Gate, error) {
	if opts.Store == nil || opts.Board == nil || opts.Display == nil {
		return nil, errors.New("gate: new: store, board and display are required")
	}
	cfg := opts.Config
	if cfg.RelayIn == "" {
		return nil, errors.New("gate: new: no relay_in")
	}
	for _, r := range []string{cfg.RelayIn, cfg.RelayOut} {
		if r == "" {
			continue
		}
		if _, err := opts.Board.Relay(r); err != nil {
			return nil, fmt.Errorf("gate: new: %w", err)
		}
	}
	for _, in := range []string{cfg.PassageIn, cfg.PassageOut, cfg.FireAlarm, cfg.DoorContact, cfg.Tamper} {
		if in == "" {
			continue
		}
		if _, err := opts.Board.Input(in); err != nil {
			return nil, fmt.Errorf("gate: new: %w", err)
		}
	}
	if cfg.Pulse.D() < 100*time.Millisecond {
		return nil, fmt.Errorf("gate: new: pulse %s below 100ms", cfg.Pulse.D())
	}
	if cfg.PassageWindow <= 0 {
		return nil, errors.New("gate: new: no passage window")
	}
	g := &Gate{
		opts: opts, cfg: cfg, now: opts.Now, after: opts.After, log: opts.Logger,
		passback: map[string]policy.Passback{}, ready: make(chan struct{}),
		pol: policy.Gate{Door: cfg.Door, Accept: cfg.Accept, AntiPassback: cfg.AntiPassback.D(),
			QRSkew: cfg.QRSkew.D(), Location: opts.Location},
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.after == nil {
		g.after = time.After
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.opts.Rules == nil {
		g.opts.Rules = func() *protocol.Rules { return nil }
	}
	if g.opts.Holds == nil {
		g.opts.Holds = hold.NewHolds(g.now, 0)
	}
	return g, nil
}

// Direction returns the direction of a reader: out for the readers named in
// gate.readers_out, in for every other.
func (g *Gate) Direction(readerName string) policy.Direction {
	if slices.Contains(g.cfg.ReadersOut, readerName) {
		return policy.Out
	}
	return policy.In
}

// Emergency reports whether the fire alarm holds the lanes open.
func (g *Gate) Emergency() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.emergency
}

// HandleEvent runs one credential (a card in the field, a scanned code, a
// Wiegand number) through the gate. The returned error reports a terminal
// fault (store, board); the result was shown on the display either way.
func (g *Gate) HandleEvent(ctx context.Context, ev reader.Event) (Result, error) {
	g.tap.Lock()
	defer g.tap.Unlock()
	dir := g.Direction(ev.Reader)
	res, err := g.handle(ctx, ev, dir)
	res.Direction = dir
	if res.Outcome != Passed || res.Code != policy.CodeOK {
		// A granted pass showed "please pass" when the arm opened.
		_ = g.opts.Display.Show(ctx, res.Message)
	}
	g.log.Info("gate: credential", "reader", ev.Reader, "kind", res.Kind, "id", res.ID, "direction", dir.String(),
		"outcome", res.Outcome.String(), "code", res.Code.String(), "seq", res.Seq)
	if err != nil {
		g.log.Error("gate: credential failed", "reader", ev.Reader, "err", err)
	}
	return res, err
}

func (g *Gate) handle(ctx context.Context, ev reader.Event, dir policy.Direction) (Result, error) {
	now := g.now()
	cred, code := g.credential(ctx, ev, now)
	res := Result{Kind: cred.Kind, ID: credID(&cred)}
	if code != policy.CodeOK {
		return g.deny(res, code)
	}
	in := policy.GateInput{Credential: cred, Direction: dir, Device: g.pol, Rules: g.opts.Rules(), Now: now}
	if res.ID != "" {
		e, listed, err := g.opts.Store.Lookup(res.ID)
		if err != nil {
			// Fail closed: a status list that cannot be read lets nobody in.
			r, _ := g.deny(res, policy.CodeRuleMissing)
			return r, fmt.Errorf("gate: status lookup: %w", err)
		}
		if listed {
			in.Listed = e.Reason
		}
		if listed && in.Credential.Card.StatusListVersion > 0 {
			// A list older than the card's 解挂 does not decide: its
			// version is read only then.
			si, err := g.opts.Store.StatusInfo()
			if err != nil {
				r, _ := g.deny(res, policy.CodeRuleMissing)
				return r, fmt.Errorf("gate: status list: %w", err)
			}
			in.ListVersion = si.Version
		}
	}
	g.mu.Lock()
	in.Passback = g.passback[res.ID]
	in.Emergency = g.emergency
	g.mu.Unlock()
	if !in.Emergency {
		// The fire alarm releases the lanes whatever holds: people get out.
		h, on, err := g.held(now)
		if err != nil {
			r, _ := g.deny(res, policy.CodeRuleMissing)
			return r, err
		}
		if on {
			return g.denyHold(res, h)
		}
	}

	d := policy.DecideGate(in)
	if !d.Allow {
		return g.deny(res, d.Code)
	}
	if d.Unlock {
		// Fire alarm: the lanes are held open by Run; journal who came
		// through, nothing to pulse or wait for.
		res.Outcome, res.Code, res.Message = Passed, d.Code, policyMessage(d.Code, d.Message)
		seq, err := g.journal(protocol.KindGatePass, res, "emergency")
		res.Seq = seq
		return res, err
	}
	if d.NeedPIN {
		if c := g.secondFactor(ctx, ev); c != policy.CodeOK {
			return g.deny(res, c)
		}
	}
	return g.pass(ctx, res, dir, d)
}

// credential turns a reader event into the policy's credential.
func (g *Gate) credential(ctx context.Context, ev reader.Event, now time.Time) (policy.Credential, policy.Code) {
	switch ev.Kind {
	case reader.CardPresent:
		info, err := cardread.ReadIdentity(ctx, ev.Card, g.opts.AIDs)
		if err == nil {
			err = cardread.ReadCampus(ctx, ev.Card, &info)
		}
		if errors.Is(err, epurse.ErrAppBlocked) {
			g.log.Info("gate: the card's application is blocked", "reader", ev.Reader, "card", info.CardNo, "err", err)
			return policy.Credential{Kind: policy.KindCard, ID: info.CardNo}, policy.CodeAppBlocked
		}
		if errors.Is(err, cardread.ErrNoPurse) {
			// An identity-only card: a memory card's fixed UID is the
			// credential (gates only). A CPU card's or a phone's is not:
			// phones (HCE) draw a new random UID at every presentation,
			// so only the application's data names them.
			if len(ev.UID) == 0 || ev.Tech != reader.TechMifare {
				g.log.Info("gate: a card without a known e-purse: its UID is no identity", "reader", ev.Reader, "tech", ev.Tech)
				return policy.Credential{Kind: policy.KindCard}, policy.CodeNoCredential
			}
			return policy.Credential{Kind: policy.KindCard, ID: hex.EncodeToString(ev.UID)}, policy.CodeOK
		}
		if err != nil {
			g.log.Warn("gate: card read failed", "reader", ev.Reader, "err", err)
			return policy.Credential{Kind: policy.KindCard}, policy.CodeNoCredential
		}
		if info.Campus == nil {
			g.log.Debug("gate: no campus data on the card: the status list decides", "reader", ev.Reader, "card", info.CardNo, "reason", info.CampusErr)
		}
		return policy.Credential{Kind: policy.KindCard, ID: info.CardNo, Class: info.Public.CardClass,
			Card: info.Policy()}, policy.CodeOK
	case reader.TextCredential:
		rules := g.opts.Rules()
		if g.opts.VerifyQR == nil || rules == nil {
			return policy.Credential{Kind: policy.KindQR}, policy.CodeQRBadSignature
		}
		claims, err := g.opts.VerifyQR(ev.Text, rules.QRIssuers, now)
		if err != nil {
			g.log.Info("gate: campus QR refused", "reader", ev.Reader, "len", len(ev.Text), "err", err)
			return policy.Credential{Kind: policy.KindQR}, policy.CodeQRBadSignature
		}
		cred := policy.Credential{Kind: policy.KindQR, QR: claims}
		if c := policy.CheckQRClaims(claims, false, now, g.cfg.QRSkew.D()); c != policy.CodeOK {
			return cred, c
		}
		// Remember the nonce only for a token that is otherwise good, so
		// garbage cannot fill the cache; a nonce seen before is a replay.
		seen, err := g.opts.Store.SeenNonce(claims.Nonce, time.Unix(claims.Expires, 0).Add(g.cfg.QRSkew.D()))
		if errors.Is(err, offline.ErrNonceExpired) {
			// Expired by a time the store has seen: the clock is behind
			// it (set back, or corrected after a jump ahead), and the
			// nonce may have been purged.
			g.log.Warn("gate: campus QR refused: the clock is behind the latest time the store has seen", "reader", ev.Reader, "err", err)
			return cred, policy.CodeQRExpired
		}
		if err != nil {
			g.log.Error("gate: nonce cache", "err", err)
			return cred, policy.CodeRuleMissing
		}
		cred.NonceSeen = seen
		return cred, policy.CodeOK
	case reader.NumberCredential:
		kind := policy.KindCard
		if ev.Tech != reader.TechWiegand {
			kind = policy.KindRecogniser
		}
		return policy.Credential{Kind: kind, ID: strconv.FormatUint(ev.Number, 10)}, policy.CodeOK
	}
	return policy.Credential{}, policy.CodeNoCredential
}

func credID(c *policy.Credential) string {
	switch {
	case c.Kind == policy.KindQR:
		return c.QR.Subject
	case c.ID != "":
		return c.ID
	}
	return c.Card.No
}

// secondFactor asks for the PIN and verifies it on the card.
func (g *Gate) secondFactor(ctx context.Context, ev reader.Event) policy.Code {
	if g.opts.Keypad == nil || ev.Kind != reader.CardPresent {
		return policy.CodeSecondFactor
	}
	_ = g.opts.Display.Show(ctx, ui.EnterPIN(0))
	pin, err := g.opts.Keypad.ReadPIN(ctx, 6)
	if err != nil {
		return policy.CodeSecondFactor
	}
	err = epurse.VerifyPIN(ctx, ev.Card, pin.Reveal())
	pin.Wipe()
	if err != nil {
		return policy.CodeWrongPIN
	}
	return policy.CodeOK
}

// held returns the hold that stops passes now, if any; while no status
// list is known it asks the store (a list applied since lifts that hold).
func (g *Gate) held(now time.Time) (hold.Hold, bool, error) {
	if !g.opts.Holds.StatusList() {
		si, err := g.opts.Store.StatusInfo()
		if err != nil {
			return hold.Hold{}, false, fmt.Errorf("gate: status list: %w", err)
		}
		if si.Version > 0 {
			g.opts.Holds.SetStatusList(true)
		}
	}
	h, on := g.opts.Holds.Gate(now)
	return h, on, nil
}

// denyHold journals and returns a refusal by a hold.
func (g *Gate) denyHold(res Result, h hold.Hold) (Result, error) {
	res.Outcome, res.Code, res.Message = Denied, h.Code, h.Message
	g.beep(false)
	seq, err := g.journal(protocol.KindGateDenied, res, string(h.Code))
	res.Seq = seq
	return res, err
}

// deny journals and returns a refusal.
func (g *Gate) deny(res Result, c policy.Code) (Result, error) {
	res.Outcome, res.Code, res.Message = Denied, c, policyMessage(c, c.Message())
	g.beep(false)
	seq, err := g.journal(protocol.KindGateDenied, res, string(c))
	res.Seq = seq
	return res, err
}

// pass releases the lane in dir and waits for the passage sensor.
func (g *Gate) pass(ctx context.Context, res Result, dir policy.Direction, d policy.Decision) (Result, error) {
	relay, sensor := g.cfg.RelayIn, g.cfg.PassageIn
	if dir == policy.Out && g.cfg.RelayOut != "" {
		relay, sensor = g.cfg.RelayOut, g.cfg.PassageOut
	}
	wait := make(chan board.Edge, 4)
	g.mu.Lock()
	g.waiting, g.granted = wait, true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting, g.granted = nil, false
		g.mu.Unlock()
	}()

	r, err := g.opts.Board.Relay(relay)
	if err == nil {
		err = r.Pulse(ctx, g.cfg.Pulse.D())
	}
	if err != nil {
		res.Outcome, res.Code, res.Message = Denied, policy.CodeRuleMissing, ui.Text(ui.CodeFault)
		seq, jerr := g.journal(protocol.KindGateDenied, res, "relay-fault")
		res.Seq = seq
		return res, errors.Join(fmt.Errorf("gate: pulse %s: %w", relay, err), jerr)
	}
	res.Relay = relay
	g.beep(true)
	_ = g.opts.Display.Show(ctx, ui.Pass())

	passed := false
	if sensor == "" {
		// No passage sensor on this lane: the pulse is the pass.
		passed = true
	} else {
		timeout := g.after(g.cfg.PassageWindow.D())
	loop:
		for {
			select {
			case e := <-wait:
				if e.Input == sensor && e.Active {
					passed = true
					break loop
				}
			case <-timeout:
				break loop
			case <-ctx.Done():
				break loop
			}
		}
	}
	if !passed {
		res.Outcome, res.Code, res.Message = NotTaken, policy.CodeOK, ui.Custom(ui.Code("pass_not_taken"), "未通行 请重新刷卡", "Pass not taken, tap again")
		seq, err := g.journal(protocol.KindGatePassNotTaken, res, "timeout")
		res.Seq = seq
		return res, err
	}
	g.mu.Lock()
	g.passback[res.ID] = g.passback[res.ID].Passed(dir, g.now())
	g.mu.Unlock()
	res.Outcome, res.Code, res.Message = Passed, d.Code, ui.Pass()
	seq, err := g.journal(protocol.KindGatePass, res, dir.String())
	res.Seq = seq
	return res, err
}

// journal appends the gate event; the journal keeps the credential id and
// kind, never more (DESIGN.md 6).
func (g *Gate) journal(kind protocol.Kind, res Result, reason string) (uint64, error) {
	id := res.ID
	if len(id) > 32 {
		id = id[:32]
	}
	seq, err := g.opts.Store.Append(protocol.Record{Kind: kind, CardNo: id, Credential: res.Kind, Reason: reason})
	if err != nil {
		return 0, fmt.Errorf("gate: journal %v: %w", kind, err)
	}
	return seq, nil
}

func (g *Gate) beep(ok bool) {
	if g.opts.Buzzer != nil {
		_ = g.opts.Buzzer.Beep(ok)
	}
}

// policyMessage shows a policy code with terminal/ui's catalogue text when
// it has one, else with the policy's own text.
func policyMessage(c policy.Code, m policy.Message) ui.Message {
	return ui.TextOr(ui.Code(c), m.ZH, m.EN)
}
