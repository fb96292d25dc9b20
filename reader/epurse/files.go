package epurse

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/openykt/yktd/reader"
)

// Short file identifiers of the EP ADF.
const (
	SFIPublicData byte = 0x15 // public application basic data (公共应用基本数据文件)
	SFIHolder     byte = 0x16 // holder data: never read by a POS or gate (DESIGN.md §4)
	SFILog        byte = 0x18 // cyclic transaction log (交易明细文件)
)

// PublicDataLen is the length of file 0x15 in the yktd card profile.
const PublicDataLen = 40

// Card status values of file 0x15 byte 29 (yktd card profile; sw_pos locks
// a blacklisted card by writing 03, research notes §2.6/2.8).
const (
	CardStatusNormal    byte = 0x00
	CardStatusLost      byte = 0x01 // 挂失
	CardStatusFrozen    byte = 0x02 // 冻结
	CardStatusLocked    byte = 0x03 // locked on the card by a terminal (锁卡)
	CardStatusCancelled byte = 0x04 // 注销 (reissued or returned)
)

// PublicData is file 0x15, the public application basic data.
//
// Bytes 0..27 are the layout of the public application basic data file of
// the PBOC-derived city and transit cards (CJ/T 166, JT/T 978.3; read the
// same way by NFCard parseInfo21: serial at 10..19, version at 9, validity
// at 20..27). Bytes 28..29 are the issuer's FCI-data bytes, which the yktd
// profile uses for card class and card status; bytes 30..39 are the yktd
// campus extension (as Kingstar's EF_PUBLICAPP carries a blacklist version):
//
//	off len field
//	  0   8 issuer identification (发卡机构标识)
//	  8   1 application type (应用类型标识)
//	  9   1 application version (发卡机构应用版本)
//	 10  10 application serial number, BCD: the card number (应用序列号)
//	 20   4 validity start date YYYYMMDD BCD (应用启用日期)
//	 24   4 validity end date YYYYMMDD BCD (应用有效日期)
//	 28   1 card class (卡类别: student, staff, visitor ..., issuer-defined)
//	 29   1 card status (CardStatus...)
//	 30   4 status-list version, big-endian
//	 34   6 reserved (00)
type PublicData struct {
	Issuer            [8]byte
	AppType           byte
	AppVersion        byte
	Serial            [10]byte
	Start, End        [4]byte // BCD YYYYMMDD, checked by ParsePublicData
	CardClass         byte
	Status            byte
	StatusListVersion uint32
}

// CardNumber returns the application serial number as its 20 BCD digits.
func (p PublicData) CardNumber() string { return hex.EncodeToString(p.Serial[:]) }

// Factor returns the key diversification factor: the last 8 bytes of the
// application serial number (PBOC/JT/T 978 "应用序列号后8字节"). It is the
// CardSerial of a SAMPurchaseRequest.
func (p PublicData) Factor() [8]byte { return [8]byte(p.Serial[2:]) }

// ValidOn reports whether day (in its own location) lies within the
// validity dates, both inclusive.
func (p PublicData) ValidOn(day time.Time) bool {
	d := NewDateTime(day).Date()
	return string(d[:]) >= string(p.Start[:]) && string(d[:]) <= string(p.End[:])
}

// Bytes encodes the file (for virtual cards and tests).
func (p PublicData) Bytes() []byte {
	b := make([]byte, 0, PublicDataLen)
	b = append(b, p.Issuer[:]...)
	b = append(b, p.AppType, p.AppVersion)
	b = append(b, p.Serial[:]...)
	b = append(b, p.Start[:]...)
	b = append(b, p.End[:]...)
	b = append(b, p.CardClass, p.Status)
	b = binary.BigEndian.AppendUint32(b, p.StatusListVersion)
	return append(b, make([]byte, PublicDataLen-len(b))...)
}

// ParsePublicData decodes file 0x15. It requires exactly PublicDataLen
// bytes and BCD validity dates.
func ParsePublicData(b []byte) (PublicData, error) {
	if err := wantLen("public data file 0x15", b, PublicDataLen); err != nil {
		return PublicData{}, err
	}
	p := PublicData{
		Issuer:            [8]byte(b[0:8]),
		AppType:           b[8],
		AppVersion:        b[9],
		Serial:            [10]byte(b[10:20]),
		Start:             [4]byte(b[20:24]),
		End:               [4]byte(b[24:28]),
		CardClass:         b[28],
		Status:            b[29],
		StatusListVersion: binary.BigEndian.Uint32(b[30:34]),
	}
	for _, d := range [][4]byte{p.Start, p.End} {
		if !isBCDDate(d) {
			return PublicData{}, fmt.Errorf("epurse: public data file 0x15: %w: validity date %X is not BCD YYYYMMDD", reader.ErrMalformed, d[:])
		}
	}
	return p, nil
}

func isBCDDate(d [4]byte) bool {
	var dt DateTime
	copy(dt[:], d[:])
	_, err := dt.In(time.UTC)
	return err == nil
}

// RecordLen is the length of a transaction log record (file 0x18).
const RecordLen = 23

// Record is one record of the cyclic transaction log, file 0x18 (JR/T 0025
// part 2 交易明细, 23 bytes; NFCard parseLog24, sw_pos do_cpu_parse_file18):
//
//	counter(2) ‖ overdraft(3) ‖ amount(4) ‖ type(1) ‖ terminal id(6) ‖
//	date(4) ‖ time(3)
type Record struct {
	Counter   uint16 // online (load) or offline (purchase) counter
	Overdraft uint32 // 3 bytes on the wire
	Amount    uint32
	Type      byte // TxLoad, TxPurchase ...
	TermID    [6]byte
	Time      DateTime
}

// Empty reports whether the record slot was never written (all zero).
func (r Record) Empty() bool { return r == Record{} }

// Bytes encodes the record (for virtual cards and tests).
func (r Record) Bytes() []byte {
	b := make([]byte, 0, RecordLen)
	b = binary.BigEndian.AppendUint16(b, r.Counter)
	b = append(b, byte(r.Overdraft>>16), byte(r.Overdraft>>8), byte(r.Overdraft))
	b = binary.BigEndian.AppendUint32(b, r.Amount)
	b = append(b, r.Type)
	b = append(b, r.TermID[:]...)
	return append(b, r.Time[:]...)
}

// ParseRecord decodes one record of file 0x18; it requires exactly
// RecordLen bytes.
func ParseRecord(b []byte) (Record, error) {
	if err := wantLen("log record", b, RecordLen); err != nil {
		return Record{}, err
	}
	return Record{
		Counter:   binary.BigEndian.Uint16(b[0:2]),
		Overdraft: uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4]),
		Amount:    binary.BigEndian.Uint32(b[5:9]),
		Type:      b[9],
		TermID:    [6]byte(b[10:16]),
		Time:      DateTime(b[16:23]),
	}, nil
}
