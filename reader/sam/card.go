package sam

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// PSAM command instructions (CLA 80) and files used by CardSAM.
const (
	InsInitSAMForPurchase   byte = 0x70 // INIT SAM FOR PURCHASE: 80 70 00 00 1C
	InsCreditSAMForPurchase byte = 0x72 // CREDIT SAM FOR PURCHASE: 80 72 00 00 04
	// SFITerminalID is the short file id of the PSAM file holding the
	// 6-byte terminal number (READ BINARY 00 B0 96 00 06).
	SFITerminalID byte = 0x16
)

// DefaultApp is the file id of the PSAM's e-purse application DF that
// CardSAM selects when none is configured (DF03, the campus application DF
// of the PSAMs in sw_pos; research notes §2.3).
var DefaultApp = []byte{0xDF, 0x03}

// CardSAM is a PSAM in a reader slot (e.g. the contact SAM slot of a PC/SC
// reader) speaking the PSAM commands of JR/T 0025: SELECT the MF, READ
// BINARY file 0x16 for the terminal id, SELECT the application, INIT SAM
// FOR PURCHASE and CREDIT SAM FOR PURCHASE. It implements epurse.SAM.
//
// Status words other than 9000 come back as *reader.StatusError; a MAC2
// the PSAM refuses (9302) is also ErrMAC2. Calls are serialized. After a
// transport error the next call selects the application again.
type CardSAM struct {
	card reader.Card
	app  []byte

	mu       sync.Mutex
	termID   [6]byte
	haveID   bool
	selected bool
}

var _ epurse.SAM = (*CardSAM)(nil)

// NewCardSAM returns a CardSAM talking to card. app is the application to
// select: a 2-byte file id (SELECT by FID) or a 5 to 16-byte AID (SELECT by
// name); nil means DefaultApp.
func NewCardSAM(card reader.Card, app []byte) *CardSAM {
	if app == nil {
		app = DefaultApp
	}
	return &CardSAM{card: card, app: append([]byte(nil), app...)}
}

func selectCmd(id []byte, name string) reader.Command {
	p1 := byte(0x00) // by file id
	if len(id) != 2 {
		p1 = 0x04 // by DF name (AID)
	}
	return reader.Command{CLA: 0x00, INS: 0xA4, P1: p1, P2: 0x00, Data: id, Name: name}
}

// transceive sends cmd and forgets the selection on a transport failure so
// that the next call starts over (a SAM that was reset lost it).
func (s *CardSAM) transceive(ctx context.Context, cmd reader.Command) ([]byte, error) {
	data, err := reader.Transceive(ctx, s.card, cmd)
	if err != nil {
		var se *reader.StatusError
		if !errors.As(err, &se) {
			s.selected = false
		}
		return nil, fmt.Errorf("sam: %w", err)
	}
	return data, nil
}

// open reads the terminal id (once) and selects the application.
func (s *CardSAM) open(ctx context.Context) error {
	if s.selected {
		return nil
	}
	if _, err := s.transceive(ctx, selectCmd([]byte{0x3F, 0x00}, "SELECT MF")); err != nil {
		return err
	}
	if !s.haveID {
		data, err := s.transceive(ctx, reader.Command{CLA: 0x00, INS: 0xB0, P1: 0x80 | SFITerminalID, P2: 0, Le: 6, HasLe: true, Name: "READ BINARY 16"})
		if err != nil {
			return err
		}
		if len(data) != 6 {
			return fmt.Errorf("sam: READ BINARY 16: %w: terminal id of %d bytes, want 6", reader.ErrMalformed, len(data))
		}
		s.termID, s.haveID = [6]byte(data), true
	}
	if _, err := s.transceive(ctx, selectCmd(s.app, "SELECT PSAM APP")); err != nil {
		return err
	}
	s.selected = true
	return nil
}

// TerminalID returns the terminal number from the PSAM's file 0x16.
func (s *CardSAM) TerminalID(ctx context.Context) ([6]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.haveID {
		if err := s.open(ctx); err != nil {
			return [6]byte{}, err
		}
	}
	return s.termID, nil
}

// InitPurchase sends INIT SAM FOR PURCHASE and returns the terminal
// sequence number and MAC1 the PSAM computed.
func (s *CardSAM) InitPurchase(ctx context.Context, req epurse.SAMPurchaseRequest) (uint32, [4]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return 0, [4]byte{}, err
	}
	data, err := s.transceive(ctx, reader.Command{
		CLA: 0x80, INS: InsInitSAMForPurchase, P1: 0x00, P2: 0x00, Data: req.Bytes(),
		Le: epurse.SAMPurchaseResponseLen, HasLe: true, Name: "INIT SAM FOR PURCHASE",
	})
	if err != nil {
		return 0, [4]byte{}, err
	}
	seq, mac1, err := epurse.ParseSAMPurchaseResponse(data)
	if err != nil {
		return 0, [4]byte{}, fmt.Errorf("sam: %w", err)
	}
	return seq, mac1, nil
}

// VerifyMAC2 sends CREDIT SAM FOR PURCHASE. A MAC2 the PSAM refuses with
// 9302 returns an error that is both ErrMAC2 and a *reader.StatusError.
func (s *CardSAM) VerifyMAC2(ctx context.Context, mac2 [4]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return err
	}
	_, err := s.transceive(ctx, reader.Command{
		CLA: 0x80, INS: InsCreditSAMForPurchase, P1: 0x00, P2: 0x00, Data: mac2[:],
		Name: "CREDIT SAM FOR PURCHASE",
	})
	var se *reader.StatusError
	if errors.As(err, &se) && se.SW == reader.SWMAC1Wrong {
		return fmt.Errorf("%w: %w", ErrMAC2, se)
	}
	return err
}
