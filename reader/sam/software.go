package sam

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/openykt/yktd/reader/epurse"
)

// Software SAM errors.
var (
	// ErrMAC2: the card's MAC2 did not verify (CREDIT SAM FOR PURCHASE
	// refused it). It wraps epurse.ErrMACInvalid.
	ErrMAC2 = fmt.Errorf("sam: MAC2 invalid: %w", epurse.ErrMACInvalid)
	// ErrNoSession: VerifyMAC2 without a preceding InitPurchase.
	ErrNoSession = errors.New("sam: no purchase session")
	// ErrUnknownKeyVersion: the card's key version is not in the key file.
	ErrUnknownKeyVersion = errors.New("sam: unknown key version")
)

// Software is a software SAM: it holds the issuer master keys in memory,
// diversifies the card keys by the card serial, computes MAC1 and checks
// MAC2 itself. It is meant for the rig and development; in the field a PSAM
// in a contact slot (CardSAM) does this work. It implements epurse.SAM.
//
// It keeps one purchase session at a time, like a PSAM: InitPurchase
// replaces any session not yet closed by VerifyMAC2. Its methods are safe
// for concurrent use and serialized.
type Software struct {
	mu     sync.Mutex
	termID [6]byte
	keys   map[byte]epurse.Keys
	seq    *seqStore
	sess   *softSession
}

type softSession struct {
	alg    epurse.Algorithm
	key    []byte
	amount uint32
}

var _ epurse.SAM = (*Software)(nil)

// OpenSoftware reads the key file at path (see KeyFile; mode 0600 is
// required) and the terminal sequence file it names.
func OpenSoftware(path string) (*Software, error) {
	kf, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return NewSoftware(kf)
}

// NewSoftware returns a software SAM for kf. kf.SequenceFile must be an
// absolute path or empty; empty keeps the terminal sequence in memory only,
// restarting at 1: tests and simulations only.
func NewSoftware(kf KeyFile) (*Software, error) {
	if len(kf.Keys) == 0 {
		return nil, fmt.Errorf("%w: no key sets", ErrKeyFile)
	}
	if kf.SequenceFile != "" && !filepath.IsAbs(kf.SequenceFile) {
		return nil, fmt.Errorf("%w: sequence file %q is relative (ReadKeyFile resolves it)", ErrKeyFile, kf.SequenceFile)
	}
	seq, err := openSeq(kf.SequenceFile)
	if err != nil {
		return nil, err
	}
	return &Software{termID: kf.TerminalID, keys: kf.Keys, seq: seq}, nil
}

// TerminalID returns the terminal id of the key file.
func (s *Software) TerminalID(context.Context) ([6]byte, error) {
	return s.termID, nil
}

// Sequence returns the last terminal transaction sequence number handed out
// (0 before the first purchase).
func (s *Software) Sequence() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq.last
}

// InitPurchase diversifies the card's purchase key, takes the next terminal
// sequence number (persisted first), derives the session key and returns
// MAC1. The session stays open for VerifyMAC2.
func (s *Software) InitPurchase(ctx context.Context, req epurse.SAMPurchaseRequest) (uint32, [4]byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, [4]byte{}, fmt.Errorf("sam: init purchase: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess = nil
	if req.Type != epurse.TxPurchase {
		return 0, [4]byte{}, fmt.Errorf("sam: init purchase: %w: transaction type %02X", epurse.ErrBadRequest, req.Type)
	}
	mk, ok := s.keys[req.KeyVersion]
	if !ok {
		return 0, [4]byte{}, fmt.Errorf("%w: %d", ErrUnknownKeyVersion, req.KeyVersion)
	}
	dpk, err := epurse.DiversifyKey(req.Algorithm, mk.Purchase, req.CardSerial)
	if err != nil {
		return 0, [4]byte{}, fmt.Errorf("sam: init purchase: %w", err)
	}
	seq, err := s.seq.next()
	if err != nil {
		return 0, [4]byte{}, err
	}
	sk, err := epurse.PurchaseSessionKey(req.Algorithm, dpk, req.Random, req.OfflineCounter, seq)
	if err != nil {
		return 0, [4]byte{}, fmt.Errorf("sam: init purchase: %w", err)
	}
	mac1, err := epurse.PurchaseMAC1(req.Algorithm, sk, req.Amount, s.termID, req.Time)
	if err != nil {
		return 0, [4]byte{}, fmt.Errorf("sam: init purchase: %w", err)
	}
	s.sess = &softSession{alg: req.Algorithm, key: sk, amount: req.Amount}
	return seq, mac1, nil
}

// VerifyMAC2 checks the card's MAC2 of the open purchase and closes the
// session. A wrong MAC2 returns an error wrapping ErrMAC2.
func (s *Software) VerifyMAC2(ctx context.Context, mac2 [4]byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sam: verify MAC2: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sess
	s.sess = nil
	if sess == nil {
		return ErrNoSession
	}
	want, err := epurse.PurchaseMAC2(sess.alg, sess.key, sess.amount)
	if err != nil {
		return fmt.Errorf("sam: verify MAC2: %w", err)
	}
	if !epurse.VerifyMAC(mac2, want) {
		return ErrMAC2
	}
	return nil
}
