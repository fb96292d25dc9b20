package epurse

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// The two-PIN model (DESIGN.md §4). A card holds two PINs, and card OSes
// refuse INITIALIZE FOR LOAD unless one of them was verified since the
// application was selected:
//
//   - the holder's PIN (initial 123456, retries counted by the card): what
//     purchases above the per-transaction limit and the kiosk services ask
//     for; VERIFY 00 20 00 00;
//   - the system PIN: personalised per card by the issuer, derived from
//     the application serial under a system-PIN master key that only a SAM
//     and the ledger's key service hold, so that a terminal claims loads
//     on a plain tap without asking the holder; VERIFY 00 20 00 01.
//
// VERIFY selects the PIN by its reference in P2: PINRefHolder (00) or
// PINRefSystem (01).
//
// The system PIN's derivation (DeriveSystemPIN): with MK the system-PIN
// master key of the card's key version and alg the card's algorithm,
//
//	DSPK = DiversifyKey(alg, MK, factor)      (left/right as for DPK, DLK, DTK)
//	X    = factor (AlgDES) or factor ‖ ^factor (AlgSM4): SystemPINInput
//	E    = first 8 bytes of Enc(alg, DSPK, X) (ECB, one block)
//	PIN  = the first 6 digits of decimalise(E), BCD (3 bytes)
//
// where decimalise lists the 16 nibbles of E in order, first those 0-9 as
// they are, then those A-F minus 10 (the decimalisation of PIN offset and
// PVV schemes; 16 nibbles always give at least 6 digits). A PSAM computes
// E with DIVERSIFY KEY (80 1A, key usage 3A, the key version, data X) then
// ENCRYPT (80 FA 00 00, data X): see reader/sam.

// PIN references of VERIFY (P2).
const (
	PINRefHolder byte = 0x00 // the holder's PIN
	PINRefSystem byte = 0x01 // the card's system PIN
)

// SystemPINDigits is the length of a system PIN.
const SystemPINDigits = 6

// SystemPINRequest names the card whose system PIN is asked for.
type SystemPINRequest struct {
	CardSerial [8]byte   // diversification factor: PublicData.Factor()
	KeyVersion byte      // the card's key version (from INITIALIZE)
	Algorithm  Algorithm // the card's algorithm (from INITIALIZE)
}

// SystemPINSource derives a card's system PIN: a SAM (reader/sam) or the
// ledger's key service. It is declared here by its consumer, the load
// flow.
type SystemPINSource interface {
	// SystemPIN returns the card's system PIN as VERIFY carries it (BCD,
	// SystemPINDigits digits). A source without a system-PIN master key
	// for the card's key version returns an error wrapping ErrNoSystemPIN.
	// The PIN is a secret: never log it.
	SystemPIN(ctx context.Context, req SystemPINRequest) ([]byte, error)
}

// SystemPINInput returns X, the block the system PIN's derivation
// encrypts: the factor for AlgDES, factor ‖ ^factor for AlgSM4 (the input
// DiversifyKey uses for the left and right halves).
func SystemPINInput(alg Algorithm, serial [8]byte) ([]byte, error) {
	switch alg {
	case AlgDES:
		return serial[:], nil
	case AlgSM4:
		x := append([]byte(nil), serial[:]...)
		for _, b := range serial {
			x = append(x, ^b)
		}
		return x, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, alg)
}

// SystemPINFromCipher decimalises E, the first 8 bytes of the encryption
// of SystemPINInput under the card's system-PIN key, into the system PIN
// (BCD). It needs at least 8 bytes.
func SystemPINFromCipher(e []byte) ([]byte, error) {
	if len(e) < 8 {
		return nil, fmt.Errorf("epurse: system PIN: %w: %d bytes of cipher text, want 8", reader.ErrMalformed, len(e))
	}
	var digits, letters []byte
	for _, b := range e[:8] {
		for _, n := range []byte{b >> 4, b & 0x0F} {
			if n < 10 {
				digits = append(digits, n)
			} else {
				letters = append(letters, n-10)
			}
		}
	}
	d := append(digits, letters...)[:SystemPINDigits]
	pin := make([]byte, SystemPINDigits/2)
	for i := range pin {
		pin[i] = d[2*i]<<4 | d[2*i+1]
	}
	return pin, nil
}

// DeriveSystemPIN derives a card's system PIN from the system-PIN master
// key (see the package comment of the two-PIN model). The issuer uses it
// at personalisation, the software SAM and the ledger at a load.
func DeriveSystemPIN(alg Algorithm, master []byte, serial [8]byte) ([]byte, error) {
	dspk, err := DiversifyKey(alg, master, serial)
	if err != nil {
		return nil, fmt.Errorf("epurse: system PIN: %w", err)
	}
	x, err := SystemPINInput(alg, serial)
	if err != nil {
		return nil, fmt.Errorf("epurse: system PIN: %w", err)
	}
	e, err := EncryptECB(alg, dspk, x)
	if err != nil {
		return nil, fmt.Errorf("epurse: system PIN: %w", err)
	}
	return SystemPINFromCipher(e)
}

// bcdPIN checks a BCD PIN block (2 to 12 digits, an odd count padded with
// F) and returns its digits.
func bcdPIN(pin []byte) (string, error) {
	var s []byte
	end := false
	for _, x := range pin {
		for _, n := range []byte{x >> 4, x & 0x0F} {
			switch {
			case n == 0x0F && !end && len(s)%2 == 1:
				end = true
			case end || n > 9:
				return "", fmt.Errorf("%w: PIN block is not BCD digits", ErrBadRequest)
			default:
				s = append(s, '0'+n)
			}
		}
	}
	if len(s) < 2 || len(s) > 12 {
		return "", fmt.Errorf("%w: PIN of %d digits, want 2 to 12", ErrBadRequest, len(s))
	}
	return string(s), nil
}

// VerifySystemPINCommand is VERIFY of the system PIN: 00 20 00 01 Lc PIN
// (BCD, as SystemPINSource returns it).
func VerifySystemPINCommand(pin []byte) (reader.Command, error) {
	digits, err := bcdPIN(pin)
	if err != nil {
		return reader.Command{}, err
	}
	data, err := EncodePIN(digits)
	if err != nil {
		return reader.Command{}, err
	}
	return reader.Command{CLA: 0x00, INS: 0x20, P1: 0x00, P2: PINRefSystem, Data: data, Name: "VERIFY SYSTEM PIN"}, nil
}

// VerifySystemPIN presents the card's system PIN. A wrong one returns an
// error that errors.As finds as *PINError (the system PIN's own retry
// counter); a blocked one (6983) wraps ErrLocked; a card without a system
// PIN answers 6A88 (a *reader.StatusError).
func VerifySystemPIN(ctx context.Context, card reader.Card, pin []byte) error {
	cmd, err := VerifySystemPINCommand(pin)
	if err != nil {
		return fmt.Errorf("epurse: verify system pin: %w", err)
	}
	if _, err := reader.Transceive(ctx, card, cmd); err != nil {
		return fmt.Errorf("epurse: verify system pin: %w", cardError(err))
	}
	return nil
}

// presentSystemPIN asks src for the card's system PIN and verifies it.
func presentSystemPIN(ctx context.Context, card reader.Card, src SystemPINSource, req SystemPINRequest) error {
	pin, err := src.SystemPIN(ctx, req)
	if err != nil {
		return fmt.Errorf("epurse: system pin: %w", err)
	}
	defer clear(pin)
	return VerifySystemPIN(ctx, card, pin)
}
