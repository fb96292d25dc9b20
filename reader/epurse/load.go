package epurse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openykt/yktd/reader"
)

// LoadHost authorises loads (圈存): it holds the load master key, checks
// the card's MAC1 and returns MAC2 for CREDIT FOR LOAD. The ledger
// implements it (through the kiosk's online link); it is declared here by
// its consumer.
type LoadHost interface {
	// AuthorizeLoad verifies MAC1 of req and debits the holder's pending
	// money at the ledger, returning MAC2. A wrong MAC1 returns an error
	// wrapping ErrMACInvalid.
	AuthorizeLoad(ctx context.Context, req LoadAuthorization) (mac2 [4]byte, err error)
}

// LoadAuthorization is what the host needs to check MAC1 and compute MAC2
// (LoadSessionKey, LoadMAC1, LoadMAC2 over the card's diversified DLK).
type LoadAuthorization struct {
	CardSerial    [8]byte // diversification factor
	TermID        [6]byte
	Amount        uint32
	Time          DateTime // the date and time CREDIT FOR LOAD will carry
	BalanceBefore uint32
	OnlineCounter uint16 // before the load
	KeyVersion    byte
	Algorithm     Algorithm
	Random        [4]byte
	MAC1          [4]byte
}

// LoadRequest is what a kiosk asks of a load.
type LoadRequest struct {
	Amount     uint32 // fen, > 0
	Time       DateTime
	TermID     [6]byte
	KeyIndex   byte    // DLK index; 0 means DefaultKeyIndex
	CardSerial [8]byte // PublicData.Factor()
	// PIN, when set, gives the card's system PIN, which Load presents
	// before INITIALIZE FOR LOAD (card OSes refuse a load without a
	// verified PIN). Nil: the caller verified a PIN in this session
	// already (the holder's, at a kiosk).
	PIN SystemPINSource
}

// LoadOutcome is the result of a load or of its recovery.
type LoadOutcome struct {
	Kind OutcomeKind
	Auth LoadAuthorization // what was authorised (zero when refused before)
	TAC  [4]byte           // when Done
	// BalanceAfter is the balance after the credit when Done.
	BalanceAfter uint32
	// LogRecord is the card's log record that settled a recovery (see
	// PurchaseOutcome.LogRecord).
	LogRecord Record
	// Err: the reason when Refused, the cause when Uncertain.
	Err error
}

// Load runs a load: the system PIN when req.PIN is set (see
// systemPINForLoad), INITIALIZE FOR LOAD, host.AuthorizeLoad (MAC1 → MAC2),
// CREDIT FOR LOAD → TAC. Without a PIN verified in this session the card
// refuses INITIALIZE FOR LOAD (6982): Refused. Errors before CREDIT was sent are Refused (nothing
// credited; the host may need to cancel its authorisation); after it, anything
// but a clear refusal by the card is Uncertain: resolve with RecoverLoad.
func Load(ctx context.Context, card reader.Card, host LoadHost, req LoadRequest) LoadOutcome {
	if req.Amount == 0 {
		return LoadOutcome{Kind: Refused, Err: fmt.Errorf("epurse: load: %w: zero amount", ErrBadRequest)}
	}
	if _, err := req.Time.In(time.UTC); err != nil {
		return LoadOutcome{Kind: Refused, Err: fmt.Errorf("epurse: load: %w: %w", ErrBadRequest, err)}
	}
	if req.KeyIndex == 0 {
		req.KeyIndex = DefaultKeyIndex
	}
	if req.PIN != nil {
		if err := systemPINForLoad(ctx, card, req); err != nil {
			return LoadOutcome{Kind: Refused, Err: fmt.Errorf("epurse: load: %w", err)}
		}
	}
	in, err := InitializeForLoad(ctx, card, req.KeyIndex, req.Amount, req.TermID)
	if err != nil {
		return LoadOutcome{Kind: Refused, Err: fmt.Errorf("epurse: load: %w", err)}
	}
	auth := LoadAuthorization{
		CardSerial: req.CardSerial, TermID: req.TermID, Amount: req.Amount, Time: req.Time,
		BalanceBefore: in.Balance, OnlineCounter: in.OnlineCounter, KeyVersion: in.KeyVersion,
		Algorithm: in.Algorithm, Random: in.Random, MAC1: in.MAC1,
	}
	if uint64(in.Balance)+uint64(req.Amount) > 0xFFFFFFFF {
		return LoadOutcome{Kind: Refused, Auth: auth, Err: fmt.Errorf("epurse: load: %w: balance would overflow", ErrBadRequest)}
	}
	mac2, err := host.AuthorizeLoad(ctx, auth)
	if err != nil {
		return LoadOutcome{Kind: Refused, Auth: auth, Err: fmt.Errorf("epurse: load: host: %w", err)}
	}
	tac, err := CreditForLoad(ctx, card, req.Time, mac2)
	if err != nil {
		var se *reader.StatusError
		if errors.As(err, &se) && refusingSW[se.SW] {
			return LoadOutcome{Kind: Refused, Auth: auth, Err: err}
		}
		return LoadOutcome{Kind: Uncertain, Auth: auth, Err: err}
	}
	return LoadOutcome{Kind: Done, Auth: auth, TAC: tac, BalanceAfter: in.Balance + req.Amount}
}

// systemPINForLoad presents the card's system PIN before a load: the
// PIN's derivation needs the card's key version and algorithm, which only
// an INITIALIZE reports and INITIALIZE FOR LOAD needs the PIN, so it reads
// them with INITIALIZE FOR PURCHASE of amount 0 (key index
// DefaultKeyIndex; nothing moves, as in tear recovery), asks req.PIN and
// sends VERIFY P2 01. A wrong PIN is a *PINError (the system PIN's own
// tries), a source without the key ErrNoSystemPIN.
func systemPINForLoad(ctx context.Context, card reader.Card, req LoadRequest) error {
	pi, err := InitializeForPurchase(ctx, card, DefaultKeyIndex, 0, req.TermID)
	if err != nil {
		return fmt.Errorf("key version for the system PIN: %w", err)
	}
	return presentSystemPIN(ctx, card, req.PIN, SystemPINRequest{CardSerial: req.CardSerial, KeyVersion: pi.KeyVersion, Algorithm: pi.Algorithm})
}
