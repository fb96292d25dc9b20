package keys

import (
	"context"
	"fmt"
	"sync"

	"github.com/openykt/yktd/reader/epurse"
)

// Software is the key service in process over the issuer master key sets
// by key version (the keys the SAMs hold: ledger.ReadIssuerKeys). It
// caches the diversified keys of the cards it has seen (a busy canteen sees
// the same cards all day). The zero value holds no keys: every check is
// ErrNoKey.
type Software struct {
	master map[byte]epurse.Keys

	mu    sync.Mutex
	cache map[Card]epurse.CardKeys
}

var (
	_ Service                = (*Software)(nil)
	_ epurse.SystemPINSource = (*Software)(nil)
)

// cacheMax bounds the diversified keys cached.
const cacheMax = 1 << 16

// NewSoftware returns the software key service of the master key sets
// (which it keeps; the caller must not change them).
func NewSoftware(master map[byte]epurse.Keys) *Software {
	return &Software{master: master, cache: map[Card]epurse.CardKeys{}}
}

// cardKeys diversifies the master keys of c's key version for c.
func (s *Software) cardKeys(c Card) (epurse.CardKeys, error) {
	if c.Algorithm != epurse.AlgDES && c.Algorithm != epurse.AlgSM4 {
		return epurse.CardKeys{}, fmt.Errorf("keys: card algorithm %s: %w", c.Algorithm, ErrUnsupportedAlg)
	}
	s.mu.Lock()
	ck, ok := s.cache[c]
	s.mu.Unlock()
	if ok {
		return ck, nil
	}
	mk, ok := s.master[c.KeyVersion]
	if !ok {
		return epurse.CardKeys{}, fmt.Errorf("keys: no issuer keys of key version %d: %w", c.KeyVersion, ErrNoKey)
	}
	ck, err := mk.ForCard(c.Algorithm, c.Serial)
	if err != nil {
		return epurse.CardKeys{}, fmt.Errorf("keys: diversify: %w: %w", ErrUnsupportedAlg, err)
	}
	s.mu.Lock()
	if s.cache == nil || len(s.cache) >= cacheMax {
		s.cache = map[Card]epurse.CardKeys{}
	}
	s.cache[c] = ck
	s.mu.Unlock()
	return ck, nil
}

// loadSessionKey returns the session key of s after checking its MAC1.
func (s *Software) loadSessionKey(ctx context.Context, ls LoadSession) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keys: load: %w", err)
	}
	ck, err := s.cardKeys(ls.Card)
	if err != nil {
		return nil, err
	}
	sk, err := epurse.LoadSessionKey(ls.Card.Algorithm, ck.DLK, ls.Random, ls.OnlineCounter)
	if err != nil {
		return nil, fmt.Errorf("keys: load session key: %w: %w", ErrUnsupportedAlg, err)
	}
	mac1, err := epurse.LoadMAC1(ls.Card.Algorithm, sk, ls.BalanceBefore, ls.Amount, ls.TerminalID)
	if err != nil {
		return nil, fmt.Errorf("keys: load MAC1: %w: %w", ErrUnsupportedAlg, err)
	}
	if !epurse.VerifyMAC(mac1, ls.MAC1) {
		return nil, fmt.Errorf("keys: load MAC1: %w", ErrMismatch)
	}
	return sk, nil
}

// VerifyLoadMAC1 checks the card's load MAC1 under its diversified DLK.
func (s *Software) VerifyLoadMAC1(ctx context.Context, ls LoadSession) error {
	_, err := s.loadSessionKey(ctx, ls)
	return err
}

// LoadMAC2 checks MAC1 and returns MAC2 over amount ‖ 02 ‖ terminal id ‖ dt.
func (s *Software) LoadMAC2(ctx context.Context, ls LoadSession, dt epurse.DateTime) ([4]byte, error) {
	sk, err := s.loadSessionKey(ctx, ls)
	if err != nil {
		return [4]byte{}, err
	}
	mac2, err := epurse.LoadMAC2(ls.Card.Algorithm, sk, ls.Amount, ls.TerminalID, dt)
	if err != nil {
		return [4]byte{}, fmt.Errorf("keys: load MAC2: %w: %w", ErrUnsupportedAlg, err)
	}
	return mac2, nil
}

// VerifyPurchaseTAC checks a purchase TAC under the card's DTK.
func (s *Software) VerifyPurchaseTAC(ctx context.Context, p PurchaseTAC) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keys: purchase TAC: %w", err)
	}
	ck, err := s.cardKeys(p.Card)
	if err != nil {
		return err
	}
	want, err := epurse.PurchaseTAC(p.Card.Algorithm, ck.DTK, p.Amount, p.TerminalID, p.TerminalSeq, p.Time)
	if err != nil {
		return fmt.Errorf("keys: purchase TAC: %w: %w", ErrUnsupportedAlg, err)
	}
	if !epurse.VerifyMAC(p.TAC, want) {
		return fmt.Errorf("keys: purchase TAC: %w", ErrMismatch)
	}
	return nil
}

// VerifyLoadTAC checks a load TAC under the card's DTK.
func (s *Software) VerifyLoadTAC(ctx context.Context, p LoadTAC) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("keys: load TAC: %w", err)
	}
	ck, err := s.cardKeys(p.Card)
	if err != nil {
		return err
	}
	want, err := epurse.LoadTAC(p.Card.Algorithm, ck.DTK, p.BalanceAfter, p.OnlineCounter, p.Amount, p.TerminalID, p.Time)
	if err != nil {
		return fmt.Errorf("keys: load TAC: %w: %w", ErrUnsupportedAlg, err)
	}
	if !epurse.VerifyMAC(p.TAC, want) {
		return fmt.Errorf("keys: load TAC: %w", ErrMismatch)
	}
	return nil
}

// SystemPIN derives the card's system PIN under the key set's system_pin
// master key.
func (s *Software) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keys: system pin: %w", err)
	}
	mk, ok := s.master[req.KeyVersion]
	if !ok {
		return nil, fmt.Errorf("keys: system pin: no issuer keys of version %d: %w", req.KeyVersion, ErrNoKey)
	}
	if mk.SystemPIN == nil {
		return nil, fmt.Errorf("keys: system pin: key version %d: %w: %w", req.KeyVersion, epurse.ErrNoSystemPIN, ErrNoKey)
	}
	pin, err := epurse.DeriveSystemPIN(req.Algorithm, mk.SystemPIN, req.CardSerial)
	if err != nil {
		return nil, fmt.Errorf("keys: system pin: %w: %w", ErrUnsupportedAlg, err)
	}
	return pin, nil
}
