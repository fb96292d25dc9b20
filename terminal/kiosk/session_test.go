package kiosk_test

import (
	"errors"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

func (r *rig) sessions(auto bool) *kiosk.Sessions {
	r.t.Helper()
	cfg := r.cfg
	cfg.AutoClaim = &auto
	cfg.SessionTimeout = config.Duration(30 * time.Second)
	s, err := kiosk.NewSessions(kiosk.SessionOptions{Kiosk: r.kiosk, Bank: r.client, Display: r.ui, Config: cfg,
		Now: r.clock.Now, Logger: quiet()})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// TestSessionTimeout: a session with no step for session_timeout ends
// and the start screen shows; a step after that, or of another session,
// is refused with ErrNoSession and moves nothing; a bad amount or PIN is
// ErrBadRequest before the card is touched.
func TestSessionTimeout(t *testing.T) {
	r := newRig(t)
	if err := ledger.SeedDemo(r.ledger.Ledger); err != nil {
		t.Fatal(err)
	}
	s := r.sessions(false)
	card := demoCard(t, "student", "", 0)
	st := s.Open(r.ctx, "sim:kiosk", r.tap(card))
	v := s.Current()
	if st.Service != "open" || v.State != "card" || v.Claimable != 5000 || v.Balance != 10000 {
		t.Fatalf("open %+v, view %+v", st, v)
	}
	if _, err := s.Claim(r.ctx, v.ID, -1); !errors.Is(err, kiosk.ErrBadRequest) {
		t.Fatalf("negative amount: %v", err)
	}
	if _, err := s.Transfer(r.ctx, v.ID, 100, "12ab"); !errors.Is(err, kiosk.ErrBadRequest) {
		t.Fatalf("PIN with letters: %v", err)
	}
	r.clock.Advance(29 * time.Second)
	if s.Expire(r.ctx) {
		t.Fatal("expired before session_timeout")
	}
	r.clock.Advance(2 * time.Second)
	if !s.Expire(r.ctx) || s.Current().State != "idle" {
		t.Fatalf("not expired after session_timeout: %+v", s.Current())
	}
	if m := r.ui.Shown(); m[len(m)-1].Code != ui.CodeIdle {
		t.Fatalf("display after the timeout %+v", m[len(m)-1])
	}
	if _, err := s.Claim(r.ctx, v.ID, 0); !errors.Is(err, kiosk.ErrNoSession) {
		t.Fatalf("claim after the timeout: %v", err)
	}
	if balance(card) != 10000 {
		t.Fatalf("card balance %d", balance(card))
	}
	if rep, _ := r.ledger.ShowAccount("S2026001"); rep.Account.Loadable != 5000 {
		t.Fatalf("account %+v", rep.Account)
	}
}

// TestSessionTransferBankRefuses: a transfer larger than the bank
// account holds is refused with bank_refused; nothing moves.
func TestSessionTransferBankRefuses(t *testing.T) {
	r := newRig(t)
	if err := ledger.SeedDemo(r.ledger.Ledger); err != nil {
		t.Fatal(err)
	}
	s := r.sessions(false)
	card := demoCard(t, "low", "", 0)
	s.Open(r.ctx, "sim:kiosk", r.tap(card))
	v := s.Current()
	st, err := s.Transfer(r.ctx, v.ID, 1000, "123456")
	if err != nil || st.Code != load.CodeBankRefused || st.Message.ZH == "" || st.Message.EN == "" || balance(card) != 500 {
		t.Fatalf("transfer above the bank balance: %+v %v (card %d)", st, err, balance(card))
	}
	if rep, _ := r.ledger.ShowAccount("S2026003"); rep.Account.Loadable != 2000 {
		t.Fatalf("account %+v", rep.Account)
	}
}
