package epurse

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// SFICampus is the campus data file of the EP ADF (the file Kingstar
// campus cards keep their limits in, research notes kiosk-water §3.2):
// read freely, written only under secure messaging with the card's
// maintenance key.
const SFICampus byte = 0x12

// CampusDataLen is the length of file 0x12 in the yktd card profile.
const CampusDataLen = 32

// CampusLayout is the layout version byte of file 0x12 this package reads
// and writes.
const CampusLayout byte = 0x01

// Offsets of the fields the card writes change (see CampusData and
// PublicData).
const (
	CampusLimitsOffset      byte = 1  // file 0x12: per-transaction limit(4) ‖ daily limit(4)
	CampusListVersionOffset byte = 9  // file 0x12: status-list version of the last 解挂 (8)
	PublicEndOffset         byte = 24 // file 0x15: validity end date (4, BCD)
	PublicStatusOffset      byte = 29 // file 0x15: card status (1)
)

// CampusData is file 0x12, the campus data of the yktd card profile: what
// every terminal honours offline and only the ledger changes (DESIGN.md §4):
//
//	off len field
//	  0   1 layout version, CampusLayout (01)
//	  1   4 per-transaction limit, fen, big-endian: above it a terminal asks
//	        for the holder's PIN (调整限额 rewrites it); 0 means not set, the
//	        terminal's configured default applies
//	  5   4 daily limit, fen, big-endian; 0 means none
//	  9   8 status-list version, big-endian, written at 解挂: a terminal
//	        whose status list is older than it honours the card's own
//	        status (file 0x15) instead of the list; 0 means never unfrozen
//	 17  15 reserved, 00
//
// The card status itself stays in file 0x15 (byte 29, where terminals
// lock a card), the validity end date too (延期 rewrites 0x15 bytes
// 24..27). Every field the writes change is whole within one UPDATE
// BINARY, so a card write is atomic on the card: old or new.
type CampusData struct {
	TxnLimit          uint32 // fen; 0: the terminal's default
	DailyLimit        uint32 // fen; 0: none
	StatusListVersion uint64 // of the last 解挂; 0: never
}

// Bytes encodes the file (CampusDataLen bytes).
func (d CampusData) Bytes() []byte {
	b := make([]byte, 0, CampusDataLen)
	b = append(b, CampusLayout)
	b = binary.BigEndian.AppendUint32(b, d.TxnLimit)
	b = binary.BigEndian.AppendUint32(b, d.DailyLimit)
	b = binary.BigEndian.AppendUint64(b, d.StatusListVersion)
	return append(b, make([]byte, CampusDataLen-len(b))...)
}

// ParseCampusData decodes file 0x12. It requires exactly CampusDataLen
// bytes, layout CampusLayout and the reserved bytes 00: anything else
// wraps reader.ErrMalformed (a terminal then falls back to its own
// defaults and the status list, never to a guess).
func ParseCampusData(b []byte) (CampusData, error) {
	if err := wantLen("campus data file 0x12", b, CampusDataLen); err != nil {
		return CampusData{}, err
	}
	if b[0] != CampusLayout {
		return CampusData{}, fmt.Errorf("epurse: campus data file 0x12: %w: layout %02X, want %02X", reader.ErrMalformed, b[0], CampusLayout)
	}
	for i, x := range b[17:] {
		if x != 0 {
			return CampusData{}, fmt.Errorf("epurse: campus data file 0x12: %w: reserved byte %d is %02X", reader.ErrMalformed, 17+i, x)
		}
	}
	return CampusData{
		TxnLimit:          binary.BigEndian.Uint32(b[1:5]),
		DailyLimit:        binary.BigEndian.Uint32(b[5:9]),
		StatusListVersion: binary.BigEndian.Uint64(b[9:17]),
	}, nil
}

// ReadCampusData reads and parses file 0x12 of the selected application.
func ReadCampusData(ctx context.Context, card reader.Card) (CampusData, error) {
	b, err := reader.Transceive(ctx, card, ReadBinarySFI(SFICampus, 0, CampusDataLen))
	if err != nil {
		return CampusData{}, fmt.Errorf("epurse: read campus data: %w", cardError(err))
	}
	return ParseCampusData(b)
}

// BinaryWrite is one UPDATE BINARY under secure messaging: Data written at
// Offset of the file SFI. It is what a terminal keeps (and a ledger
// journals) of a card write, enough to send it again or to check on the
// card whether it happened (CheckWrite).
type BinaryWrite struct {
	SFI    byte
	Offset byte
	Data   []byte
}

// Header returns the command header the MAC covers (UpdateBinaryHeader).
func (w BinaryWrite) Header() ([5]byte, error) {
	return UpdateBinaryHeader(w.SFI, w.Offset, len(w.Data))
}

// LimitsWrite is 调整限额: the holder's per-transaction and daily limits
// (fen) in file 0x12.
func LimitsWrite(txnLimit, dailyLimit uint32) BinaryWrite {
	d := binary.BigEndian.AppendUint32(nil, txnLimit)
	return BinaryWrite{SFI: SFICampus, Offset: CampusLimitsOffset, Data: binary.BigEndian.AppendUint32(d, dailyLimit)}
}

// ListVersionWrite stamps the status-list version of a 解挂 in file 0x12.
func ListVersionWrite(version uint64) BinaryWrite {
	return BinaryWrite{SFI: SFICampus, Offset: CampusListVersionOffset, Data: binary.BigEndian.AppendUint64(nil, version)}
}

// CardStatusWrite sets the card status byte of file 0x15 (CardStatus...).
func CardStatusWrite(status byte) BinaryWrite {
	return BinaryWrite{SFI: SFIPublicData, Offset: PublicStatusOffset, Data: []byte{status}}
}

// ExpiryWrite is 延期: the validity end date (BCD YYYYMMDD) of file 0x15.
// It refuses a date that is not one.
func ExpiryWrite(end [4]byte) (BinaryWrite, error) {
	if !isBCDDate(end) {
		return BinaryWrite{}, fmt.Errorf("%w: validity end %X is not BCD YYYYMMDD", ErrBadRequest, end[:])
	}
	return BinaryWrite{SFI: SFIPublicData, Offset: PublicEndOffset, Data: end[:]}, nil
}

// UnfreezeWrites are the writes of 解挂 for a card whose file 0x15 reads
// pub, to the status-list version that unlisted it: first the version in
// file 0x12, then, if the card itself is not normal (a terminal locked
// it), its status back to normal. Torn between the two, the card stays
// refused (locked on the card) until the second is written; torn before
// the first, terminals with older lists keep refusing it: a half-done
// 解挂 never opens a card early.
func UnfreezeWrites(pub PublicData, version uint64) []BinaryWrite {
	w := []BinaryWrite{ListVersionWrite(version)}
	if pub.Status != CardStatusNormal {
		w = append(w, CardStatusWrite(CardStatusNormal))
	}
	return w
}
