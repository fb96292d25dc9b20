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
// data of file 0x15, the balance and, after ReadCampus, the campus data of
// file 0x12. Holder data (file 0x16) is never read.
type Info struct {
	Public  epurse.PublicData
	CardNo  string // Public.CardNumber()
	Balance int64  // fen, from GET BALANCE
	// Campus is file 0x12 (the holder's limits, the status-list version
	// of the card's last 解挂) as ReadCampus read it; nil when the card
	// has no readable campus data (or ReadCampus was not called): the
	// terminal's limits and the status list apply, as for any card.
	Campus *epurse.CampusData
	// CampusErr is why Campus is nil after ReadCampus (the card's answer
	// to READ BINARY of file 0x12, or why its content was refused), for
	// the caller's debug log; nil when Campus is set.
	CampusErr error
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
// reads file 0x15 and the balance. A card whose application is blocked
// (SELECT 6A81 or 9303) gives an error wrapping epurse.ErrAppBlocked (not
// ErrNoPurse), with Info's Public and CardNo filled when the card still
// lets file 0x15 be read. File 0x12 is read by ReadCampus.
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
		if errors.Is(err, epurse.ErrAppBlocked) {
			// The blocked application is selected, and reads may stay
			// open (card OS manuals differ): the card number, if the
			// card gives it, is for the display and the log.
			if pub, rerr := epurse.ReadPublicData(ctx, card); rerr == nil {
				return Info{Public: pub, CardNo: pub.CardNumber()}, err
			}
		}
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
		// A blocked application (6A81, 9303) is there, and refused: it is
		// not "no application", and no other purse is tried for it.
		if errors.Is(err, epurse.ErrAppBlocked) || !notFound(err) {
			return fmt.Errorf("cardread: %w", err)
		}
	}
	if _, err := epurse.SelectFile(ctx, card, epurse.FIDEPADF); err != nil {
		if !errors.Is(err, epurse.ErrAppBlocked) && notFound(err) {
			return fmt.Errorf("cardread: %w", ErrNoPurse)
		}
		return fmt.Errorf("cardread: %w", err)
	}
	return nil
}

// notFound reports a SELECT refused because the card has no such file or
// application (6A82, or 6A86 from cards that do not select by name). SELECT
// 6A81 is a blocked application (epurse.ErrAppBlocked), never "not found".
func notFound(err error) bool {
	var se *reader.StatusError
	if !errors.As(err, &se) {
		return false
	}
	switch se.SW {
	case reader.SWFileNotFound, reader.SWWrongP1P2:
		return true
	}
	return false
}

// ReadCampus reads the campus data file 0x12 of the selected application
// into info (after Read or ReadIdentity, on the same tap). A card that
// answers the read with a status word (6A82: no such file, an older card)
// or whose file is not the yktd layout (epurse.ParseCampusData) has no
// campus data: info.Campus stays nil, info.CampusErr says why, and
// ReadCampus returns nil (the tap goes on with the terminal's limits and
// the status list). Only a read that failed on the way (the card removed,
// a timeout, a broken or short answer) is an error: tap again, as for the
// other reads.
func ReadCampus(ctx context.Context, card reader.Card, info *Info) error {
	info.Campus, info.CampusErr = nil, nil
	b, err := reader.Transceive(ctx, card, epurse.ReadBinarySFI(epurse.SFICampus, 0, epurse.CampusDataLen))
	var se *reader.StatusError
	switch {
	case errors.As(err, &se):
		info.CampusErr = fmt.Errorf("cardread: campus data file 0x12: %w", err)
		return nil
	case err != nil:
		return fmt.Errorf("cardread: read campus data: %w", err)
	case len(b) != epurse.CampusDataLen:
		// Asked for exactly its length: a card answers that or a status
		// word, so a short or long answer is the link's fault.
		return fmt.Errorf("cardread: read campus data: %w: %d data bytes, want %d", reader.ErrMalformed, len(b), epurse.CampusDataLen)
	}
	d, err := epurse.ParseCampusData(b)
	if err != nil {
		info.CampusErr = fmt.Errorf("cardread: %w", err)
		return nil
	}
	info.Campus = &d
	return nil
}

// Policy is the policy's view of the card read. The validity dates of
// file 0x15 are calendar days already (in the device's time zone, which the
// policy compares them in), so they need no conversion.
// The campus data, when read, gives the card's own limits and the
// status-list version of its last 解挂.
func (i Info) Policy() policy.Card {
	c := policy.Card{
		No: i.CardNo, Class: i.Public.CardClass, Status: i.Public.Status,
		ValidFrom: bcdDate(i.Public.Start), ValidTo: bcdDate(i.Public.End), Balance: i.Balance,
	}
	if d := i.Campus; d != nil {
		c.PINLimit, c.DailyLimit, c.StatusListVersion = int64(d.TxnLimit), int64(d.DailyLimit), d.StatusListVersion
	}
	return c
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
