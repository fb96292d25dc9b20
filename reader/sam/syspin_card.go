package sam

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

var (
	_ epurse.SystemPINSource = (*CardSAM)(nil)
	_ epurse.SystemPINSource = (*Slot)(nil)
)

// SystemPIN has the PSAM derive the card's system PIN: DIVERSIFY KEY
// (80 1A 3A <key version>) with the factor, ENCRYPT (80 FA 00 00) of the
// same block, then decimalises the answer (see the commands at
// KeyUsageSystemPIN). A PSAM without the key (6A88) returns an error that
// is ErrNoSystemPINKey and a *reader.StatusError. It ends the PSAM's
// purchase session, if one was open.
func (s *CardSAM) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	x, err := epurse.SystemPINInput(req.Algorithm, req.CardSerial)
	if err != nil {
		return nil, fmt.Errorf("sam: system pin: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	_, err = s.transceive(ctx, reader.Command{
		CLA: 0x80, INS: InsDiversifyKey, P1: KeyUsageSystemPIN, P2: req.KeyVersion, Data: x,
		Name: "DIVERSIFY KEY",
	})
	var se *reader.StatusError
	if errors.As(err, &se) && se.SW == reader.SWRefDataNotFound {
		return nil, fmt.Errorf("key version %d: %w: %w", req.KeyVersion, ErrNoSystemPINKey, se)
	}
	if err != nil {
		return nil, err
	}
	e, err := s.transceive(ctx, reader.Command{
		CLA: 0x80, INS: InsEncrypt, P1: EncryptP1ECB, P2: 0x00, Data: x, Le: byte(len(x)), HasLe: true,
		Name: "ENCRYPT",
	})
	if err != nil {
		return nil, err
	}
	if len(e) != len(x) {
		return nil, fmt.Errorf("sam: ENCRYPT: %w: %d bytes for %d", reader.ErrMalformed, len(e), len(x))
	}
	pin, err := epurse.SystemPINFromCipher(e)
	if err != nil {
		return nil, fmt.Errorf("sam: %w", err)
	}
	return pin, nil
}

// SystemPIN has the ready PSAM derive the card's system PIN
// (CardSAM.SystemPIN); without a ready PSAM it fails at once with
// ErrNoSAM. The PSAM's purchase session, if one was open, is gone
// afterwards: derive the PIN before INIT SAM FOR PURCHASE or after
// VerifyMAC2, never between them.
func (s *Slot) SystemPIN(ctx context.Context, req epurse.SystemPINRequest) ([]byte, error) {
	h, err := s.get()
	if err != nil {
		return nil, err
	}
	pin, err := h.cs.SystemPIN(ctx, req)
	if err == nil || errors.Is(err, ErrNoSystemPINKey) {
		return pin, err
	}
	return nil, s.fail(ctx, h, err)
}
