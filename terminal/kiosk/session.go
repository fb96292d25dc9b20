package kiosk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/cardwrite"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

// Bank is the ledger's side of the holder's services at the kiosk:
// what the card's account holds, and 银校转账. *syncclient.Client
// implements it.
type Bank interface {
	// Claims says what the card's account holds for loading and what a
	// load would be refused with.
	Claims(ctx context.Context, cardNo string, cardBalance int64) (protocol.Claims, error)
	// Transfer moves money from the bank account bound to the card's
	// account into it, authorised by the holder's PIN.
	Transfer(ctx context.Context, m protocol.TransferRequest) (protocol.TransferResponse, error)
}

// Errors of the session API: the caller (the control interface) maps
// them to its answers.
var (
	// ErrNoSession: no card is in the kiosk, or the session named ended.
	ErrNoSession = errors.New("kiosk: no such session: place the card again")
	// ErrBusy: a step of the session is running.
	ErrBusy = errors.New("kiosk: session busy: a step is running")
	// ErrBadRequest: the step's arguments are wrong (an amount, a PIN
	// that is not 4 to 12 digits); nothing was done.
	ErrBadRequest = errors.New("kiosk: bad request")
)

// SessionOptions configure Sessions.
type SessionOptions struct {
	Kiosk *Kiosk
	// Bank, if set, offers the bank transfer and shows what waits; nil
	// offers only the claim.
	Bank    Bank
	Display ui.Display
	// Config is the kiosk's section (auto_claim, session_timeout,
	// ledger_timeout).
	Config config.Kiosk
	Now    func() time.Time
	AIDs   [][]byte
	Logger *slog.Logger
	// Services and Writes, if both set, offer the holder's self-service
	// (Service, ReportLoss) and complete the card's pending writes (补写)
	// when it arrives.
	Services Services
	Writes   *cardwrite.Engine
	// Desk makes the sessions a service desk's (device.kind "desk"):
	// every trade and card write under the operator signed in (SignIn),
	// and the desk's trades (PIN reset, unblock) too.
	Desk bool
}

// Sessions is the kiosk's session with the card in its reader: the card
// arrives (Open), the holder chooses a service and enters what it needs
// (Claim, Transfer), the card leaves or nothing happens for
// session_timeout (Close, Expire). One card at a time; every step is
// complete when it returns, so a session that ends leaves nothing half
// done (a load torn by the card's removal is a durable intent, settled
// when the card returns).
type Sessions struct {
	k      *Kiosk
	bank   Bank
	svc    Services
	writes *cardwrite.Engine
	desk   bool
	// operator is the desk's operator signed in ("" none; mu).
	operator string
	display  ui.Display
	cfg      config.Kiosk
	now      func() time.Time
	aids     [][]byte
	log      *slog.Logger

	mu  sync.Mutex // guards cur and the session's fields
	cur *session
	// step serialises the steps of the session (card commands); Open
	// and Close wait for a running step.
	step sync.Mutex
}

type session struct {
	id     string
	reader string
	card   reader.Card
	cardNo string
	// balance is the purse's balance last read (fen).
	balance   int64
	claims    *protocol.Claims // nil: the ledger did not answer
	last      *Step
	lastStep  time.Time
	busy      bool
	opened    time.Time
	ledgerErr string
}

// Step is the result of one step of a session, as the API answers it and
// the display showed it.
type Step struct {
	Service string `json:"service"` // "open", "claim", "transfer" or a self-service trade ("set-limit", ...)
	Result
	// TransferID names the ledger's transfer (a transfer that reached the
	// account, whether or not it was loaded after).
	TransferID string `json:"transfer_id,omitempty"`
	// TriesLeft is the holder PIN's tries left after a wrong PIN (the
	// card's count), or the ID number's (the ledger's).
	TriesLeft int `json:"tries_left,omitempty"`
	// Writes are the card writes of a self-service step, or those
	// completed (补写) when the card arrived.
	Writes []WriteStep `json:"writes,omitempty"`
	// Statement is what 查询 (and a fee payment) answered.
	Statement *Statement `json:"statement,omitempty"`
	// Refund is, after a desk's 销户, what the closed account holds for
	// the holder (fen).
	Refund int64 `json:"refund,omitempty"`
}

// View is the session as the kiosk's page shows it. It never holds a PIN.
type View struct {
	// State is "idle" (no card) or "card".
	State string `json:"state"`
	ID    string `json:"id,omitempty"`
	Card  string `json:"card,omitempty"`
	// Balance is the purse's balance (fen) last read.
	Balance int64 `json:"balance"`
	// Loadable is what the account holds for loading, Claimable what may
	// move onto this card now; LedgerOK is false when the ledger did not
	// answer (both are then 0).
	Loadable  int64 `json:"loadable"`
	Claimable int64 `json:"claimable"`
	LedgerOK  bool  `json:"ledger_ok"`
	// Refusal is why a load would be refused now (the ledger's code).
	Refusal  string    `json:"refusal,omitempty"`
	Services []string  `json:"services,omitempty"`
	Busy     bool      `json:"busy,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Last     *Step     `json:"last,omitempty"`
}

// NewSessions returns the session keeper of k.
func NewSessions(o SessionOptions) (*Sessions, error) {
	if o.Kiosk == nil || o.Display == nil {
		return nil, errors.New("kiosk: sessions: kiosk and display are required")
	}
	o.Config.Defaults()
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("kiosk: sessions: %w", err)
	}
	s := &Sessions{k: o.Kiosk, bank: o.Bank, svc: o.Services, writes: o.Writes, desk: o.Desk, display: o.Display, cfg: o.Config, now: o.Now, aids: o.AIDs, log: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Open starts the session of a card placed on readerName: with
// auto_claim it claims all that waits first (the Step returned), then it
// reads what the account holds. A session of another card ends first.
func (s *Sessions) Open(ctx context.Context, readerName string, card reader.Card) Step {
	s.step.Lock()
	defer s.step.Unlock()
	s.end("another card")
	var st Step
	if s.cfg.Auto() {
		res, err := s.k.Claim(ctx, card, 0)
		if err != nil {
			s.log.Error("kiosk: claim failed", "err", err)
		}
		st = Step{Service: "claim", Result: res}
		if res.Outcome == TapAgain || res.CardNo == "" {
			return st // the card left or is not ours: no session
		}
	} else {
		info, err := cardread.Read(ctx, card, s.k.aids)
		if errors.Is(err, epurse.ErrAppBlocked) && s.svc != nil {
			// A terminal blocked the application: its reads stay open,
			// and 解挂 unblocks it.
			if pub, perr := epurse.ReadPublicData(ctx, card); perr == nil {
				info, err = cardread.Info{Public: pub, CardNo: pub.CardNumber()}, nil
			}
		}
		if err != nil {
			r := tapAgain("", CodeTapAgain)
			if errors.Is(err, cardread.ErrNoPurse) {
				r = refused("", CodeNoPurse)
			}
			s.k.show(ctx, r.Message)
			return Step{Service: "open", Result: r}
		}
		st = Step{Service: "open", Result: Result{Outcome: Nothing, Code: codeSession, CardNo: info.CardNo, Balance: info.Balance}}
	}
	st.Writes = s.complete(ctx, card, st.CardNo)
	ss := &session{id: newSessionID(), reader: readerName, card: card, cardNo: st.CardNo, balance: st.Balance,
		opened: s.now(), lastStep: s.now()}
	s.refreshClaims(ctx, ss)
	ss.last = &st
	s.mu.Lock()
	s.cur = ss
	s.mu.Unlock()
	if st.Service == "open" {
		s.k.show(ctx, sessionMessage(ss))
	}
	s.log.Info("kiosk: session opened", "session", ss.id, "card", ss.cardNo, "reader", readerName)
	return st
}

// complete does the card's pending writes (补写) as it arrives: those a
// pulled card left torn here or elsewhere, and the registry's (延期). A
// ledger that does not answer completes nothing now.
func (s *Sessions) complete(ctx context.Context, card reader.Card, cardNo string) []WriteStep {
	op := s.Operator()
	if s.svc == nil || s.writes == nil || cardNo == "" || s.desk && op == "" {
		return nil
	}
	c, _, err := readWriteCard(ctx, s.k, card)
	if err != nil || c.Public.CardNumber() != cardNo {
		return nil
	}
	rs, err := s.writes.Complete(ctx, c, op)
	if err != nil {
		s.log.Info("kiosk: pending card writes not asked", "card", cardNo, "err", err)
		return nil
	}
	var out []WriteStep
	for _, r := range rs {
		out = append(out, WriteStep{WriteID: r.WriteID, Field: r.Field.String(), Outcome: r.Outcome.String(), Acked: r.Acked})
		s.log.Info("kiosk: pending card write completed (补写)", "card", cardNo, "write", r.WriteID, "field", r.Field.String(),
			"outcome", r.Outcome.String(), "err", r.Err)
	}
	return out
}

// codeSession is the screen of an open session (balance and what waits).
const codeSession ui.Code = "kiosk_session"

// Close ends the session of the card on readerName ("" any): the card
// left.
func (s *Sessions) Close(ctx context.Context, readerName, why string) {
	s.step.Lock()
	defer s.step.Unlock()
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur == nil || (readerName != "" && cur.reader != readerName) {
		return
	}
	s.end(why)
	if err := s.display.Show(ctx, ui.Idle()); err != nil {
		s.log.Warn("kiosk: display", "err", err)
	}
}

// End ends the session id (the holder pressed 退出) and shows the start
// screen; ErrNoSession if it is not the current one.
func (s *Sessions) End(ctx context.Context, id string) error {
	ss, err := s.begin(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ss.busy = false
	s.mu.Unlock()
	s.end("ended by the holder")
	s.step.Unlock()
	if err := s.display.Show(ctx, ui.Idle()); err != nil {
		s.log.Warn("kiosk: display", "err", err)
	}
	return nil
}

// Reader is the reader of the current session ("" none).
func (s *Sessions) Reader() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return ""
	}
	return s.cur.reader
}

// end drops the current session (the caller holds step).
func (s *Sessions) end(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.log.Info("kiosk: session ended", "session", s.cur.id, "card", s.cur.cardNo, "why", why)
		s.cur = nil
	}
}

// Expire ends a session idle for longer than session_timeout; the daemon
// calls it every second. It reports whether one ended.
func (s *Sessions) Expire(ctx context.Context) bool {
	s.mu.Lock()
	cur := s.cur
	idle := cur != nil && !cur.busy && s.now().Sub(cur.lastStep) > s.cfg.SessionTimeout.D()
	s.mu.Unlock()
	if !idle {
		return false
	}
	s.Close(ctx, cur.reader, "timeout")
	return true
}

// Current is the session as its page shows it.
func (s *Sessions) Current() View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewLocked()
}

func (s *Sessions) viewLocked() View {
	ss := s.cur
	if ss == nil {
		return View{State: "idle"}
	}
	v := View{State: "card", ID: ss.id, Card: ss.cardNo, Balance: ss.balance, Busy: ss.busy,
		Expires: ss.lastStep.Add(s.cfg.SessionTimeout.D()), Last: ss.last, Services: []string{"claim"}}
	if s.bank != nil {
		v.Services = append(v.Services, "transfer")
	}
	if s.svc != nil && s.writes != nil {
		for t := protocol.TradeChangePIN; t <= protocol.TradeUnblock; t++ {
			if kioskTrades[t] || s.desk && deskTrades[t] {
				v.Services = append(v.Services, t.String())
			}
		}
	}
	if ss.claims != nil {
		v.LedgerOK, v.Loadable, v.Claimable = true, ss.claims.Loadable, ss.claims.Claimable
		if ss.claims.Refusal != 0 {
			v.Refusal = string(load.RefusalCode(ss.claims.Refusal))
		}
	}
	return v
}

// begin takes the session id for a step: ErrNoSession if it is not the
// current one, ErrBusy while another step runs. The caller runs the step
// and calls finish.
func (s *Sessions) begin(id string) (*session, error) {
	if !s.step.TryLock() {
		return nil, ErrBusy
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.cur
	if ss == nil || ss.id != id {
		s.step.Unlock()
		return nil, ErrNoSession
	}
	ss.busy = true
	return ss, nil
}

func (s *Sessions) finish(ctx context.Context, ss *session, st Step) {
	if st.Balance != 0 || st.Outcome == Loaded {
		ss.balance = st.Balance
	}
	if st.Outcome != TapAgain {
		s.refreshClaims(ctx, ss)
	}
	s.mu.Lock()
	ss.busy, ss.last, ss.lastStep = false, &st, s.now()
	s.mu.Unlock()
	s.step.Unlock()
}

// Claim loads amount (fen; 0: all that fits) of what waits for the
// session's card.
func (s *Sessions) Claim(ctx context.Context, id string, amount int64) (Step, error) {
	if amount < 0 || amount > maxAmount {
		return Step{}, fmt.Errorf("%w: amount %d", ErrBadRequest, amount)
	}
	ss, err := s.begin(id)
	if err != nil {
		return Step{}, err
	}
	res, err := s.k.Claim(ctx, ss.card, amount)
	st := Step{Service: "claim", Result: res}
	s.finish(ctx, ss, st)
	return st, err
}

// maxAmount is the largest amount a step takes: the purse's 4-byte
// balance.
const maxAmount = 0xFFFFFFFF

// refreshClaims asks the ledger what the account holds now (bounded by
// ledger_timeout); a failure leaves it unknown.
func (s *Sessions) refreshClaims(ctx context.Context, ss *session) {
	if s.bank == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.LedgerTimeout.D())
	defer cancel()
	c, err := s.bank.Claims(lctx, ss.cardNo, ss.balance)
	if err != nil {
		s.log.Warn("kiosk: the ledger did not say what the account holds", "card", ss.cardNo, "err", err)
		s.mu.Lock()
		ss.claims, ss.ledgerErr = nil, err.Error()
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	ss.claims, ss.ledgerErr = &c, ""
	s.mu.Unlock()
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessionMessage is the screen of an open session: the balance, and what
// waits at the ledger.
func sessionMessage(ss *session) ui.Message {
	m := ui.Message{Code: codeSession, ZH: "请选择服务", EN: "Choose a service", Balance: ss.balance, HasBalance: true}
	if ss.claims != nil && ss.claims.Claimable > 0 {
		m.ZH, m.EN = "有待领取款项 请选择服务", "Money waiting to claim: choose a service"
		m.Amount, m.HasAmount = ss.claims.Claimable, true
	}
	return m
}
