package cardread

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/terminal/policy"
)

// Info is what a POS reads from a card before any decision: the public
// data of file 0x15 and the balance. Holder data (file 0x16) is never read.
type Info struct {
	Public  epurse.PublicData
	CardNo  string // Public.CardNumber()
	Balance int64  // fen, from GET BALANCE
}

// DefaultAIDs are the e-purse applications Read selects, in order, when
// the caller names none: the campus (Kingstar) ADF and the city-card ADF;
// after them Read tries SELECT 1001 (the EP ADF of PBOC cards).
var DefaultAIDs = [][]byte{epurse.AIDKingstar, epurse.AIDCityCard}

// ErrNoPurse is returned by Read for a card without an e-purse
// application this terminal knows (every SELECT answered "not found").
var ErrNoPurse = errors.New("cardread: no e-purse application on the card")

// Read selects the e-purse application (the first of aids the card
// has, or DefaultAIDs when aids is empty, then the EP ADF by file id),
// reads file 0x15 and the balance.
func Read(ctx context.Context, card reader.Card, aids [][]byte) (Info, error) {
	info, err := ReadIdentity(ctx, card, aids)
	if err != nil {
		return info, err
	}
	bal, err := epurse.GetBalance(ctx, card)
	if err != nil {
		return Info{}, fmt.Errorf("cardread: %w", err)
	}
	info.Balance = int64(bal)
	return info, nil
}

// ReadIdentity is Read without GET BALANCE: what a gate needs (card
// number, class, status, validity), one command less per pass.
func ReadIdentity(ctx context.Context, card reader.Card, aids [][]byte) (Info, error) {
	if err := selectPurse(ctx, card, aids); err != nil {
		return Info{}, err
	}
	pub, err := epurse.ReadPublicData(ctx, card)
	if err != nil {
		return Info{}, fmt.Errorf("cardread: %w", err)
	}
	return Info{Public: pub, CardNo: pub.CardNumber()}, nil
}

func selectPurse(ctx context.Context, card reader.Card, aids [][]byte) error {
	if len(aids) == 0 {
		aids = DefaultAIDs
	}
	for _, aid := range aids {
		_, err := epurse.Select(ctx, card, aid)
		if err == nil {
			return nil
		}
		if !notFound(err) {
			return fmt.Errorf("cardread: %w", err)
		}
	}
	if _, err := epurse.SelectFile(ctx, card, epurse.FIDEPADF); err != nil {
		if notFound(err) {
			return fmt.Errorf("cardread: %w", ErrNoPurse)
		}
		return fmt.Errorf("cardread: %w", err)
	}
	return nil
}

// notFound reports a SELECT refused because the card has no such file or
// application (6A82, or 6A81/6A86 from cards that do not select by name).
func notFound(err error) bool {
	var se *reader.StatusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.SW {
	case reader.SWFileNotFound, reader.SWFuncNotSupported, reader.SWWrongP1P2:
		return true
	}
	return false
}

// Policy is the policy's view of the card read. The validity dates of
// file 0x15 are calendar days already (in the device's time zone, which the
// policy compares them in), so they need no conversion.
func (i Info) Policy() policy.Card {
	return policy.Card{
		No: i.CardNo, Class: i.Public.CardClass, Status: i.Public.Status,
		ValidFrom: bcdDate(i.Public.Start), ValidTo: bcdDate(i.Public.End), Balance: i.Balance,
	}
}

// bcdDate converts a BCD YYYYMMDD (checked by epurse.ParsePublicData) to a
// policy.Date.
func bcdDate(b [4]byte) policy.Date {
	var n uint32
	for _, x := range b {
		n = n*100 + uint32(x>>4)*10 + uint32(x&0x0F)
	}
	return policy.Date(n)
}
