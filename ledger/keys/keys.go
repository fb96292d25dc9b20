// Package keys is the ledger's key service (DESIGN.md 6): the one place
// where the ledger's card cryptography happens. Through Service the ledger
// checks a card's load MAC1 and computes MAC2, checks purchase and load
// TACs, derives cards' system PINs and computes the MACs of card writes
// (files, block, unblock, PIN reload); through Holder it computes the
// accounts' PIN verification values and the keyed digests of ID numbers.
// Master keys never leave an implementation: callers get verdicts, MACs
// and PINs, never keys. Software holds the issuer master keys in memory
// (today's reference set-up); an HSM / 加密机 implements the same
// interfaces later.
package keys

import (
	"context"
	"errors"

	"github.com/openykt/yktd/reader/epurse"
)

// Errors of a key service; match them with errors.Is.
var (
	// ErrNoKey: the service holds no key for the request (unknown key
	// version, no system-PIN master key): the check cannot be made.
	ErrNoKey = errors.New("keys: no key for the request")
	// ErrMismatch: a MAC1 or TAC that does not verify.
	ErrMismatch = errors.New("keys: MAC or TAC does not verify")
	// ErrUnsupportedAlg: a card algorithm the service does not implement.
	ErrUnsupportedAlg = errors.New("keys: unsupported card algorithm")
	// ErrBadCommand: a card-write MAC asked for a header that is not the
	// command of that key (or a PIN block that is not BCD digits).
	ErrBadCommand = errors.New("keys: not the command of that key")
)

// Card names a card's keys: the issuer key version, the algorithm the card
// reported and the application serial (the diversification factor).
type Card struct {
	KeyVersion byte
	Algorithm  epurse.Algorithm
	Serial     [8]byte
}

// LoadSession is a card's INITIALIZE FOR LOAD answer with the request that
// made it: what MAC1 covers and what MAC2's session key needs.
type LoadSession struct {
	Card          Card
	Random        [4]byte
	OnlineCounter uint16
	BalanceBefore uint32
	Amount        uint32
	TerminalID    [6]byte
	MAC1          [4]byte
}

// PurchaseTAC is what a purchase TAC covers (epurse.PurchaseTAC).
type PurchaseTAC struct {
	Card        Card
	Amount      uint32
	TerminalID  [6]byte
	TerminalSeq uint32
	Time        epurse.DateTime
	TAC         [4]byte
}

// LoadTAC is what a load TAC covers (epurse.LoadTAC).
type LoadTAC struct {
	Card          Card
	BalanceAfter  uint32
	OnlineCounter uint16 // before the credit
	Amount        uint32
	TerminalID    [6]byte
	Time          epurse.DateTime
	TAC           [4]byte
}

// Service is the card side of the key service: every computation under the
// issuer master keys the ledger needs. Implementations are safe for
// concurrent use.
type Service interface {
	// VerifyLoadMAC1 checks the card's MAC1 (ErrMismatch, ErrNoKey,
	// ErrUnsupportedAlg).
	VerifyLoadMAC1(ctx context.Context, s LoadSession) error
	// LoadMAC2 checks MAC1 again and only then returns MAC2 over amount ‖
	// 02 ‖ terminal id ‖ dt: no MAC2 without the card's proof.
	LoadMAC2(ctx context.Context, s LoadSession, dt epurse.DateTime) ([4]byte, error)
	// VerifyPurchaseTAC checks a purchase TAC (ErrMismatch, ErrNoKey,
	// ErrUnsupportedAlg).
	VerifyPurchaseTAC(ctx context.Context, p PurchaseTAC) error
	// VerifyLoadTAC checks a load TAC (ErrMismatch, ErrNoKey,
	// ErrUnsupportedAlg).
	VerifyLoadTAC(ctx context.Context, p LoadTAC) error
	// SystemPIN derives a card's system PIN (BCD), as the SAMs do
	// (epurse.DeriveSystemPIN): epurse.SystemPINSource. ErrNoKey (also
	// wrapping epurse.ErrNoSystemPIN when the key set has no system-PIN
	// master key).
	SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error)

	// The card writes after issuance (epurse.WriteKeys): MACs under the
	// card's keys diversified from the maintenance, block, unblock and
	// PIN reload master keys. Each checks that the header is the command
	// it is for (ErrBadCommand otherwise) and returns ErrNoKey when the key
	// set has no such master key, ErrUnsupportedAlg for an unknown
	// algorithm. Which writes a card may get is the caller's decision: the
	// service computes, it does not authorise.

	// UpdateMAC is the MAC of UPDATE BINARY under secure messaging
	// (header 04 D6 (80|sfi) offset Lc, Lc = len(data)+4) under the card's
	// DAMK, IV the card's challenge.
	UpdateMAC(ctx context.Context, card epurse.CardRef, challenge [4]byte, header [5]byte, data []byte) ([4]byte, error)
	// BlockMAC is the MAC of APPLICATION BLOCK (epurse.AppBlockHeader)
	// under the card's DABK.
	BlockMAC(ctx context.Context, card epurse.CardRef, challenge [4]byte, header [5]byte) ([4]byte, error)
	// UnblockMAC is the MAC of APPLICATION UNBLOCK
	// (epurse.AppUnblockHeader) under the card's DAUK.
	UnblockMAC(ctx context.Context, card epurse.CardRef, challenge [4]byte, header [5]byte) ([4]byte, error)
	// PINReloadMAC is the MAC of PIN RELOAD over the new PIN block (BCD,
	// 2 to 12 digits) under the card's DRPK. The PIN is a secret: never
	// logged.
	PINReloadMAC(ctx context.Context, card epurse.CardRef, pin []byte) ([4]byte, error)
}

// Holder is the account side of the key service: values keyed under a
// secret only the ledger holds, so that what the ledger stores of a holder
// (a PIN verification value, an ID number's digest) is useless without it.
type Holder interface {
	// PINVerificationValue returns the verification value of pin (ASCII
	// digits) for account with salt; the same inputs give the same value.
	PINVerificationValue(ctx context.Context, account string, salt, pin []byte) ([]byte, error)
	// IDDigest returns the keyed digest of a national ID number
	// (normalised: spaces removed, letters upper case).
	IDDigest(ctx context.Context, id string) ([]byte, error)
}
