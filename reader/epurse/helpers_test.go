package epurse

import (
	"context"
	"fmt"
	"sync"
)

// softSAM is a software PSAM for this package's tests (the product's is
// reader/sam).
type softSAM struct {
	mu     sync.Mutex
	keys   Keys
	termID [6]byte
	seq    uint32
	sk     []byte
	amount uint32
	alg    Algorithm
	// failMAC2 makes VerifyMAC2 fail.
	failMAC2 bool
}

func newSoftSAM() *softSAM { return &softSAM{keys: testMaster, termID: testTermID, seq: 0x100} }

func (s *softSAM) TerminalID(context.Context) ([6]byte, error) { return s.termID, nil }

func (s *softSAM) InitPurchase(_ context.Context, req SAMPurchaseRequest) (uint32, [4]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Through the wire format, as a PSAM would see it.
	req, err := ParseSAMPurchaseRequest(req.Bytes())
	if err != nil {
		return 0, [4]byte{}, err
	}
	dpk, err := DiversifyKey(req.Algorithm, s.keys.Purchase, req.CardSerial)
	if err != nil {
		return 0, [4]byte{}, err
	}
	s.seq++
	sk, err := PurchaseSessionKey(req.Algorithm, dpk, req.Random, req.OfflineCounter, s.seq)
	if err != nil {
		return 0, [4]byte{}, err
	}
	mac1, err := PurchaseMAC1(req.Algorithm, sk, req.Amount, s.termID, req.Time)
	s.sk, s.amount, s.alg = sk, req.Amount, req.Algorithm
	return s.seq, mac1, err
}

func (s *softSAM) VerifyMAC2(_ context.Context, mac2 [4]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want, err := PurchaseMAC2(s.alg, s.sk, s.amount)
	if err != nil {
		return err
	}
	if s.failMAC2 || !VerifyMAC(mac2, want) {
		return fmt.Errorf("softsam: %w", ErrMACInvalid)
	}
	return nil
}

// softHost is a load host for tests (the product's is the ledger).
type softHost struct {
	keys Keys
	err  error
}

func (h *softHost) AuthorizeLoad(_ context.Context, req LoadAuthorization) ([4]byte, error) {
	if h.err != nil {
		return [4]byte{}, h.err
	}
	dlk, err := DiversifyKey(req.Algorithm, h.keys.Load, req.CardSerial)
	if err != nil {
		return [4]byte{}, err
	}
	sk, err := LoadSessionKey(req.Algorithm, dlk, req.Random, req.OnlineCounter)
	if err != nil {
		return [4]byte{}, err
	}
	want, err := LoadMAC1(req.Algorithm, sk, req.BalanceBefore, req.Amount, req.TermID)
	if err != nil {
		return [4]byte{}, err
	}
	if !VerifyMAC(want, req.MAC1) {
		return [4]byte{}, fmt.Errorf("softhost: %w", ErrMACInvalid)
	}
	return LoadMAC2(req.Algorithm, sk, req.Amount, req.TermID, req.Time)
}
