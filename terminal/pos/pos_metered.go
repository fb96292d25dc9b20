package pos

import (
	"context"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/terminal/cardread"
	"github.com/openykt/yktd/terminal/policy"
)

// session is a metered (shower) session: it starts with a tap that checks
// the balance against the pre-authorisation and ends with a second tap of
// the same card (or the maximum session time), when the minutes used are
// debited in one purchase.
type session struct {
	CardNo  string
	Start   time.Time
	Preauth int64 // fen: the most the session may charge
	Class   uint8 // card class, for the class's price (no 搭伙费 on a meter)
	// Charge is fixed when the session stopped (second tap or timeout) and
	// the debit has not completed yet: a torn final debit is retried (or
	// found completed) at the card's next tap, for this same amount.
	Charge  int64
	Stopped bool
	Meal    string
	// IntentID is the intent of a final debit that was torn: when recovery
	// finds it completed, the session is paid.
	IntentID uint64
}

// Session is a metered session for the daemon (valve control, display).
type Session struct {
	CardNo  string
	Start   time.Time
	Stopped bool  // the water is off; the charge waits for the card's next tap
	Charge  int64 // fen, when Stopped
}

// Sessions returns the metered sessions, running or waiting for their card.
func (p *POS) Sessions() []Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, Session{CardNo: s.CardNo, Start: s.Start, Stopped: s.Stopped, Charge: s.Charge})
	}
	return out
}

// ExpireSessions stops the running sessions older than the maximum session
// time (config MaxSession) and returns them: the daemon closes the valve.
// Their charge, for the capped time, is debited when the card is next
// presented on this meter. It is kept in memory only: a restart before
// that tap loses it (nothing was debited, so nothing is doubled).
func (p *POS) ExpireSessions() []Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var out []Session
	for _, s := range p.sessions {
		if s.Stopped || now.Sub(s.Start) < p.cfg.MaxSession.D() {
			continue
		}
		s.Stopped, s.Charge = true, p.meterCharge(s, now, -1)
		p.log.Info("pos: metered session timed out", "card", s.CardNo, "charge", s.Charge)
		out = append(out, Session{CardNo: s.CardNo, Start: s.Start, Stopped: true, Charge: s.Charge})
	}
	return out
}

// metered is a tap on a shower meter: it starts a session, or stops the
// card's session and debits it.
func (p *POS) metered(ctx context.Context, card reader.Card, info cardread.Info, done []offline.Intent) (Result, error) {
	s := p.sessions[info.CardNo]
	if s == nil {
		// Debits recovery found completed for this card belong to no
		// session this POS knows (lost in a restart): journaled, shown
		// by no tap, and never the charge of a session to come.
		delete(p.unclaimed, info.CardNo)
		for _, o := range p.sessions {
			if !o.Stopped {
				return refused(info.CardNo, CodeMeterBusy), nil
			}
		}
		return p.startSession(ctx, card, info)
	}
	now := p.now()
	if !s.Stopped {
		s.Stopped, s.Charge = true, p.meterCharge(s, now, info.Balance)
	} else if s.IntentID == 0 {
		// Stopped by the timeout without the card: cap at the balance now.
		s.Charge = min(s.Charge, info.Balance)
	}
	for _, in := range done {
		if s.IntentID != 0 && in.ID == s.IntentID {
			delete(p.sessions, info.CardNo)
			return p.recovered(info, in), nil
		}
	}
	if r, ok := p.recoveredSale(info, done, s.Charge); ok {
		delete(p.sessions, info.CardNo)
		return r, nil
	}
	if s.Charge <= 0 {
		delete(p.sessions, info.CardNo)
		r := refused(info.CardNo, policy.CodeInvalidAmount)
		r.Balance = info.Balance
		return r, nil
	}
	res, err := p.pay(ctx, card, info, s.Charge)
	switch res.Outcome {
	case Paid:
		delete(p.sessions, info.CardNo)
		p.booked(info.CardNo, policy.Decision{Allow: true, Meal: s.Meal}, res, now)
	case TapAgain:
		s.IntentID = res.IntentID
	case Refused:
		if err != nil {
			// A terminal fault (store, SAM) before any debit: the session
			// keeps its charge for the card's next tap.
			p.log.Error("pos: metered session charge waits for the next tap", "card", info.CardNo, "charge", s.Charge, "code", res.Code.String())
			break
		}
		// The card refused the final debit (it was used elsewhere during
		// the shower): the session ends unpaid, as the meter cannot take
		// more than the card holds. The log keeps it for operations.
		p.log.Error("pos: metered session ended unpaid", "card", info.CardNo, "charge", s.Charge, "code", res.Code.String())
		delete(p.sessions, info.CardNo)
	}
	return res, err
}

func (p *POS) startSession(ctx context.Context, card reader.Card, info cardread.Info) (Result, error) {
	now := p.now()
	if r, held, err := p.held(info, now, p.cfg.PreauthFen); held || err != nil {
		return r, err
	}
	d, err := p.decide(info, p.cfg.PreauthFen, now)
	if err != nil {
		return refused(info.CardNo, CodeStoreFault), err
	}
	if !d.Allow {
		return refusedBy(info, d, p.cfg.PreauthFen), nil
	}
	if d.NeedPIN {
		if r, ok := p.checkPIN(ctx, card, info, d.Amount); !ok {
			return r, nil
		}
	}
	preauth := min(p.cfg.PreauthFen, info.Balance)
	p.sessions[info.CardNo] = &session{CardNo: info.CardNo, Start: now, Preauth: preauth, Class: info.Public.CardClass, Meal: d.Meal}
	p.log.Info("pos: metered session started", "card", info.CardNo, "preauth", preauth)
	return Result{Outcome: SessionStarted, Code: policy.CodeOK, Message: sessionStartedMessage(preauth, info.Balance),
		CardNo: info.CardNo, Amount: preauth, Balance: info.Balance}, nil
}

// meterCharge is the charge of a session stopped at now: every started
// minute (at most the maximum session time; a session stopped at once pays
// its first minute) at the per-minute price, capped at the pre-authorisation and at balance (balance < 0:
// unknown, no cap).
func (p *POS) meterCharge(s *session, now time.Time, balance int64) int64 {
	used := max(0, now.Sub(s.Start))
	used = min(used, p.cfg.MaxSession.D())
	minutes := int64((used + time.Minute - 1) / time.Minute)
	if minutes == 0 {
		minutes = 1 // the valve opened: a started minute
	}
	charge := minutes * p.cfg.PerMinuteFen
	var rules *protocol.Rules
	if p.rules != nil {
		rules = p.rules()
	}
	if priced, ok := policy.ClassPrice(charge, policy.PricingFor(rules, s.Class), false); ok {
		charge = priced
	}
	charge = min(charge, s.Preauth)
	if balance >= 0 {
		charge = min(charge, balance)
	}
	return charge
}
