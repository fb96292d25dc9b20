package epurse

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// SAM is what a purchase needs from a PSAM. It is declared here by its
// consumer; reader/sam implements it (a software SAM and a PSAM in a
// contact slot).
type SAM interface {
	// TerminalID returns the 6-byte terminal number (PSAM file 0x16).
	TerminalID(ctx context.Context) ([6]byte, error)
	// InitPurchase is INIT SAM FOR PURCHASE (80 70 00 00 1C): it returns the
	// terminal transaction sequence and MAC1. The PSAM increments its
	// sequence on every call.
	InitPurchase(ctx context.Context, req SAMPurchaseRequest) (termSeq uint32, mac1 [4]byte, err error)
	// VerifyMAC2 is CREDIT SAM FOR PURCHASE (80 72 00 00 04): it checks the
	// card's MAC2 of the purchase InitPurchase opened. A wrong MAC2 returns
	// an error wrapping ErrMACInvalid.
	VerifyMAC2(ctx context.Context, mac2 [4]byte) error
}

// SAMPurchaseRequest is the data field of INIT SAM FOR PURCHASE.
type SAMPurchaseRequest struct {
	Random         [4]byte   // card random from INITIALIZE FOR PURCHASE
	OfflineCounter uint16    // card offline counter before the purchase
	Amount         uint32    // fen
	Type           byte      // transaction type, TxPurchase
	Time           DateTime  // transaction date and time
	KeyVersion     byte      // card key version from INITIALIZE
	Algorithm      Algorithm // card algorithm identifier from INITIALIZE
	CardSerial     [8]byte   // diversification factor: application serial number
}

// SAMPurchaseRequestLen is the length of the INIT SAM FOR PURCHASE data field.
const SAMPurchaseRequestLen = 28

// Bytes encodes the 28-byte data field of INIT SAM FOR PURCHASE:
// random(4) ‖ offline counter(2) ‖ amount(4) ‖ type(1) ‖ date-time(7) ‖
// key version(1) ‖ algorithm(1) ‖ card serial(8) (research notes §2.3,
// sw_pos do_cpu_payment).
func (r SAMPurchaseRequest) Bytes() []byte {
	b := make([]byte, 0, SAMPurchaseRequestLen)
	b = append(b, r.Random[:]...)
	b = binary.BigEndian.AppendUint16(b, r.OfflineCounter)
	b = binary.BigEndian.AppendUint32(b, r.Amount)
	b = append(b, r.Type)
	b = append(b, r.Time[:]...)
	b = append(b, r.KeyVersion, byte(r.Algorithm))
	b = append(b, r.CardSerial[:]...)
	return b
}

// ParseSAMPurchaseRequest decodes the data field of INIT SAM FOR PURCHASE
// (the virtual PSAM's side). It requires exactly 28 bytes.
func ParseSAMPurchaseRequest(b []byte) (SAMPurchaseRequest, error) {
	if len(b) != SAMPurchaseRequestLen {
		return SAMPurchaseRequest{}, fmt.Errorf("epurse: INIT SAM FOR PURCHASE data: %w: %d bytes, want %d", ErrBadRequest, len(b), SAMPurchaseRequestLen)
	}
	var r SAMPurchaseRequest
	copy(r.Random[:], b[0:4])
	r.OfflineCounter = binary.BigEndian.Uint16(b[4:6])
	r.Amount = binary.BigEndian.Uint32(b[6:10])
	r.Type = b[10]
	copy(r.Time[:], b[11:18])
	r.KeyVersion = b[18]
	r.Algorithm = Algorithm(b[19])
	copy(r.CardSerial[:], b[20:28])
	return r, nil
}

// SAMPurchaseResponseLen is the length of the INIT SAM FOR PURCHASE
// response data: terminal seq(4) ‖ MAC1(4).
const SAMPurchaseResponseLen = 8

// ParseSAMPurchaseResponse decodes the response data of INIT SAM FOR
// PURCHASE: terminal transaction sequence(4) ‖ MAC1(4).
func ParseSAMPurchaseResponse(b []byte) (termSeq uint32, mac1 [4]byte, err error) {
	if len(b) != SAMPurchaseResponseLen {
		return 0, mac1, fmt.Errorf("epurse: INIT SAM FOR PURCHASE: %w: %d bytes, want %d", reader.ErrMalformed, len(b), SAMPurchaseResponseLen)
	}
	return binary.BigEndian.Uint32(b[:4]), [4]byte(b[4:8]), nil
}
