package epurse

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Command builders and response parsers of the EP commands (JR/T 0025-2005
// part 2, chapter "电子存折和电子钱包的专用命令", and ISO 7816-4 for SELECT,
// READ BINARY, READ RECORD, VERIFY). Parsers take the response data without
// the status word and check its length exactly.

// Key index used by the flows when the caller gives none (the usual index of
// the first DPK/DLK in the card's key file).
const DefaultKeyIndex byte = 0x01

// SelectAID is SELECT by DF name: 00 A4 04 00 Lc AID 00.
func SelectAID(aid []byte) reader.Command {
	return reader.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x00, Data: aid, HasLe: true, Name: "SELECT"}
}

// SelectFID is SELECT by file identifier: 00 A4 00 00 02 FID 00 (e.g. 3F00
// for the MF, 1001 for the EP ADF of PBOC cards).
func SelectFID(fid uint16) reader.Command {
	return reader.Command{CLA: 0x00, INS: 0xA4, P1: 0x00, P2: 0x00, Data: binary.BigEndian.AppendUint16(nil, fid), HasLe: true, Name: "SELECT"}
}

// ReadBinarySFI is READ BINARY with a short file identifier: 00 B0 (80|sfi)
// offset Le.
func ReadBinarySFI(sfi, offset, le byte) reader.Command {
	return reader.Command{CLA: 0x00, INS: 0xB0, P1: 0x80 | sfi&0x1F, P2: offset, Le: le, HasLe: true, Name: "READ BINARY"}
}

// ReadRecordSFI is READ RECORD n of the file sfi: 00 B2 n (sfi<<3|4) Le.
func ReadRecordSFI(sfi, n, le byte) reader.Command {
	return reader.Command{CLA: 0x00, INS: 0xB2, P1: n, P2: sfi<<3 | 0x04, Le: le, HasLe: true, Name: "READ RECORD"}
}

// GetBalanceCommand is GET BALANCE of the e-purse: 80 5C 00 02 04.
func GetBalanceCommand() reader.Command {
	return reader.Command{CLA: 0x80, INS: 0x5C, P1: 0x00, P2: 0x02, Le: 4, HasLe: true, Name: "GET BALANCE"}
}

// ParseBalance decodes the 4-byte GET BALANCE response.
func ParseBalance(b []byte) (uint32, error) {
	if err := wantLen("GET BALANCE", b, 4); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// EncodePIN encodes a PIN of 2 to 12 decimal digits as BCD, an odd digit
// count padded with F (JR/T 0025: "个人识别码 ... 不足补F").
func EncodePIN(pin string) ([]byte, error) {
	if len(pin) < 2 || len(pin) > 12 {
		return nil, fmt.Errorf("%w: PIN of %d digits, want 2 to 12", ErrBadRequest, len(pin))
	}
	out := make([]byte, (len(pin)+1)/2)
	for i := range out {
		out[i] = 0xFF
	}
	for i := 0; i < len(pin); i++ {
		c := pin[i]
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("%w: PIN has a non-digit", ErrBadRequest)
		}
		if i%2 == 0 {
			out[i/2] = (c-'0')<<4 | 0x0F
		} else {
			out[i/2] = out[i/2]&0xF0 | (c - '0')
		}
	}
	return out, nil
}

// VerifyPINCommand is VERIFY: 00 20 00 00 len PIN-BCD.
func VerifyPINCommand(pin string) (reader.Command, error) {
	p, err := EncodePIN(pin)
	if err != nil {
		return reader.Command{}, err
	}
	return reader.Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: 0x00, Data: p, Name: "VERIFY"}, nil
}

// ChangePINCommand is CHANGE PIN: 80 5E 01 00 Lc old-PIN ‖ FF ‖ new-PIN.
func ChangePINCommand(oldPIN, newPIN string) (reader.Command, error) {
	o, err := EncodePIN(oldPIN)
	if err != nil {
		return reader.Command{}, err
	}
	n, err := EncodePIN(newPIN)
	if err != nil {
		return reader.Command{}, err
	}
	data := append(append(o, 0xFF), n...)
	return reader.Command{CLA: 0x80, INS: 0x5E, P1: 0x01, P2: 0x00, Data: data, Name: "CHANGE PIN"}, nil
}

func initData(keyIndex byte, amount uint32, termID [6]byte) []byte {
	d := make([]byte, 0, 11)
	d = append(d, keyIndex)
	d = binary.BigEndian.AppendUint32(d, amount)
	return append(d, termID[:]...)
}

// InitPurchaseCommand is INITIALIZE FOR PURCHASE of the e-purse:
// 80 50 01 02 0B key index(1) ‖ amount(4) ‖ terminal id(6), Le 0F.
func InitPurchaseCommand(keyIndex byte, amount uint32, termID [6]byte) reader.Command {
	return reader.Command{CLA: 0x80, INS: 0x50, P1: 0x01, P2: 0x02, Data: initData(keyIndex, amount, termID), Le: 0x0F, HasLe: true, Name: "INITIALIZE FOR PURCHASE"}
}

// PurchaseInit is the response of INITIALIZE FOR PURCHASE (15 bytes):
// balance(4) ‖ offline counter(2) ‖ overdraft limit(3) ‖ key version(1) ‖
// algorithm(1) ‖ random(4).
type PurchaseInit struct {
	Balance        uint32
	OfflineCounter uint16 // counter of the last purchase; the next is +1
	OverdraftLimit uint32 // 3 bytes on the wire
	KeyVersion     byte
	Algorithm      Algorithm
	Random         [4]byte
}

// ParsePurchaseInit decodes the response of INITIALIZE FOR PURCHASE.
func ParsePurchaseInit(b []byte) (PurchaseInit, error) {
	if err := wantLen("INITIALIZE FOR PURCHASE", b, 15); err != nil {
		return PurchaseInit{}, err
	}
	return PurchaseInit{
		Balance:        binary.BigEndian.Uint32(b[0:4]),
		OfflineCounter: binary.BigEndian.Uint16(b[4:6]),
		OverdraftLimit: uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8]),
		KeyVersion:     b[9],
		Algorithm:      Algorithm(b[10]),
		Random:         [4]byte(b[11:15]),
	}, nil
}

// DebitCommand is DEBIT FOR PURCHASE: 80 54 01 00 0F terminal seq(4) ‖
// date(4) ‖ time(3) ‖ MAC1(4), Le 08.
func DebitCommand(termSeq uint32, dt DateTime, mac1 [4]byte) reader.Command {
	d := make([]byte, 0, 15)
	d = binary.BigEndian.AppendUint32(d, termSeq)
	d = append(d, dt[:]...)
	d = append(d, mac1[:]...)
	return reader.Command{CLA: 0x80, INS: 0x54, P1: 0x01, P2: 0x00, Data: d, Le: 0x08, HasLe: true, Name: "DEBIT FOR PURCHASE"}
}

// ParseDebit decodes the response of DEBIT FOR PURCHASE: TAC(4) ‖ MAC2(4)
// (TAC first; GET TRANSACTION PROVE has the reverse order).
func ParseDebit(b []byte) (tac, mac2 [4]byte, err error) {
	if err := wantLen("DEBIT FOR PURCHASE", b, 8); err != nil {
		return tac, mac2, err
	}
	return [4]byte(b[0:4]), [4]byte(b[4:8]), nil
}

// InitLoadCommand is INITIALIZE FOR LOAD of the e-purse: 80 50 00 02 0B key
// index(1) ‖ amount(4) ‖ terminal id(6), Le 10.
func InitLoadCommand(keyIndex byte, amount uint32, termID [6]byte) reader.Command {
	return reader.Command{CLA: 0x80, INS: 0x50, P1: 0x00, P2: 0x02, Data: initData(keyIndex, amount, termID), Le: 0x10, HasLe: true, Name: "INITIALIZE FOR LOAD"}
}

// LoadInit is the response of INITIALIZE FOR LOAD (16 bytes): balance(4) ‖
// online counter(2) ‖ key version(1) ‖ algorithm(1) ‖ random(4) ‖ MAC1(4).
type LoadInit struct {
	Balance       uint32
	OnlineCounter uint16 // counter of the last load; the next is +1
	KeyVersion    byte
	Algorithm     Algorithm
	Random        [4]byte
	MAC1          [4]byte
}

// ParseLoadInit decodes the response of INITIALIZE FOR LOAD.
func ParseLoadInit(b []byte) (LoadInit, error) {
	if err := wantLen("INITIALIZE FOR LOAD", b, 16); err != nil {
		return LoadInit{}, err
	}
	return LoadInit{
		Balance:       binary.BigEndian.Uint32(b[0:4]),
		OnlineCounter: binary.BigEndian.Uint16(b[4:6]),
		KeyVersion:    b[6],
		Algorithm:     Algorithm(b[7]),
		Random:        [4]byte(b[8:12]),
		MAC1:          [4]byte(b[12:16]),
	}, nil
}

// CreditCommand is CREDIT FOR LOAD: 80 52 00 00 0B date(4) ‖ time(3) ‖
// MAC2(4), Le 04.
func CreditCommand(dt DateTime, mac2 [4]byte) reader.Command {
	d := make([]byte, 0, 11)
	d = append(d, dt[:]...)
	d = append(d, mac2[:]...)
	return reader.Command{CLA: 0x80, INS: 0x52, P1: 0x00, P2: 0x00, Data: d, Le: 0x04, HasLe: true, Name: "CREDIT FOR LOAD"}
}

// ParseCredit decodes the response of CREDIT FOR LOAD: TAC(4).
func ParseCredit(b []byte) ([4]byte, error) {
	if err := wantLen("CREDIT FOR LOAD", b, 4); err != nil {
		return [4]byte{}, err
	}
	return [4]byte(b), nil
}

// ProveCommand is GET TRANSACTION PROVE: 80 5A 00 <type> 02 counter(2), Le
// 08. The counter is the card's counter after the transaction (research
// notes §2.7: the three field implementations send old+1).
func ProveCommand(txType byte, counter uint16) reader.Command {
	return reader.Command{CLA: 0x80, INS: 0x5A, P1: 0x00, P2: txType, Data: binary.BigEndian.AppendUint16(nil, counter), Le: 0x08, HasLe: true, Name: "GET TRANSACTION PROVE"}
}

// ParseProve decodes the response of GET TRANSACTION PROVE: MAC(4) ‖ TAC(4)
// (MAC first: the reverse of DEBIT FOR PURCHASE). For a purchase the MAC is
// MAC2.
func ParseProve(b []byte) (mac, tac [4]byte, err error) {
	if err := wantLen("GET TRANSACTION PROVE", b, 8); err != nil {
		return mac, tac, err
	}
	return [4]byte(b[0:4]), [4]byte(b[4:8]), nil
}

func wantLen(cmd string, b []byte, n int) error {
	if len(b) != n {
		return fmt.Errorf("epurse: %s: %w: %d data bytes, want %d", cmd, reader.ErrMalformed, len(b), n)
	}
	return nil
}

// cardError maps a card's status word to this package's errors, keeping
// the *reader.StatusError in the chain: 9401 ErrInsufficientBalance, 9303
// and 6983 ErrLocked, 9302 ErrMACInvalid, 9406 ErrNoProof, 63Cx *PINError.
// Other errors are returned unchanged.
func cardError(err error) error {
	var se *reader.StatusError
	if !errors.As(err, &se) {
		return err
	}
	if n, ok := se.SW.Retries(); ok {
		return fmt.Errorf("%w: %w", &PINError{Retries: n}, err)
	}
	switch se.SW {
	case reader.SWBalanceInsufficient:
		return fmt.Errorf("%w: %w", ErrInsufficientBalance, err)
	case reader.SWApplicationLocked, reader.SWAuthBlocked:
		return fmt.Errorf("%w: %w", ErrLocked, err)
	case reader.SWMAC1Wrong:
		return fmt.Errorf("%w: %w", ErrMACInvalid, err)
	case swProofUnavailable:
		return fmt.Errorf("%w: %w", ErrNoProof, err)
	}
	return err
}

// swProofUnavailable is 9406: the requested MAC/TAC is not available.
const swProofUnavailable reader.SW = 0x9406
