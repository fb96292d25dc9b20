package epurse

import (
	"bytes"
	"context"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Card writes after issuance (调整限额, 解挂, 延期, PIN reset, block and
// unblock): GET CHALLENGE, the MAC from whoever holds the issuer's keys
// (the ledger's key service, or a desk's PSAM), then the command. The MAC
// sources are declared here by their consumer, one small interface per
// key; ledger/keys implements all of them (WriteKeys).
//
// Every write is idempotent (the same bytes at the same place; the same
// PIN; the same block state), so an Uncertain outcome is settled by
// sending it again, or by CheckWrite for a file write.

// CardRef names the card whose diversified keys a MAC is computed under:
// the application serial (the diversification factor, PublicData.Factor),
// the issuer key version and the algorithm the card reports in INITIALIZE
// (ReadCardRef reads them).
type CardRef struct {
	Serial     [8]byte
	KeyVersion byte
	Algorithm  Algorithm
}

// UpdateMACSource computes the MAC of UPDATE BINARY under secure messaging
// with the card's maintenance key DAMK (SecureMAC over header ‖ data, IV
// the challenge).
type UpdateMACSource interface {
	UpdateMAC(ctx context.Context, card CardRef, challenge [4]byte, header [5]byte, data []byte) ([4]byte, error)
}

// BlockMACSource computes the MAC of APPLICATION BLOCK (header
// AppBlockHeader) with the card's block key DABK.
type BlockMACSource interface {
	BlockMAC(ctx context.Context, card CardRef, challenge [4]byte, header [5]byte) ([4]byte, error)
}

// UnblockMACSource computes the MAC of APPLICATION UNBLOCK (header
// AppUnblockHeader) with the card's unblock key DAUK.
type UnblockMACSource interface {
	UnblockMAC(ctx context.Context, card CardRef, challenge [4]byte, header [5]byte) ([4]byte, error)
}

// PINReloadMACSource computes the MAC of PIN RELOAD over the new PIN block
// (BCD) with the card's PIN reload key DRPK (PINReloadMAC). The PIN is a
// secret: never log it.
type PINReloadMACSource interface {
	PINReloadMAC(ctx context.Context, card CardRef, pin []byte) ([4]byte, error)
}

// WriteKeys is every MAC source of the card writes.
type WriteKeys interface {
	UpdateMACSource
	BlockMACSource
	UnblockMACSource
	PINReloadMACSource
}

// WriteOutcome is the result of a card write: Done (the card answered
// 9000), Refused (nothing was written: the card refused, or the command
// was never sent), Uncertain (the command was sent and its answer lost:
// send it again, or CheckWrite). CheckWrite gives Done or Void.
type WriteOutcome struct {
	Kind OutcomeKind
	// Sent: the write command itself left the terminal (false when the
	// challenge or the MAC failed first).
	Sent bool
	// Err: the reason when Refused or Void, the cause when Uncertain.
	Err error
}

// ReadCardRef reads the key version and algorithm of the selected card with
// INITIALIZE FOR PURCHASE of amount 0 (nothing moves; as tear recovery and
// the system PIN do), for the card with application serial serial.
func ReadCardRef(ctx context.Context, card reader.Card, termID [6]byte, serial [8]byte) (CardRef, error) {
	pi, err := InitializeForPurchase(ctx, card, DefaultKeyIndex, 0, termID)
	if err != nil {
		return CardRef{}, fmt.Errorf("epurse: card keys: %w", err)
	}
	return CardRef{Serial: serial, KeyVersion: pi.KeyVersion, Algorithm: pi.Algorithm}, nil
}

// GetChallenge asks the card for the challenge of the next command.
func GetChallenge(ctx context.Context, card reader.Card) ([4]byte, error) {
	b, err := reader.Transceive(ctx, card, GetChallengeCommand())
	if err != nil {
		return [4]byte{}, fmt.Errorf("epurse: get challenge: %w", cardError(err))
	}
	return ParseChallenge(b)
}

// sendWrite sends a write command and classifies the answer.
func sendWrite(ctx context.Context, card reader.Card, cmd reader.Command, what string) WriteOutcome {
	_, err := reader.Transceive(ctx, card, cmd)
	if err == nil {
		return WriteOutcome{Kind: Done, Sent: true}
	}
	err = fmt.Errorf("epurse: %s: %w", what, smError(err))
	if refusedBySW(err, smRefusingSW) {
		return WriteOutcome{Kind: Refused, Sent: true, Err: err}
	}
	return WriteOutcome{Kind: Uncertain, Sent: true, Err: err}
}

func refused(what string, err error) WriteOutcome {
	return WriteOutcome{Kind: Refused, Err: fmt.Errorf("epurse: %s: %w", what, err)}
}

// UpdateBinary writes w to the selected application under secure
// messaging: GET CHALLENGE, src.UpdateMAC, UPDATE BINARY. A wrong MAC is
// Refused with ErrMACInvalid (6988), a lost challenge ErrNoChallenge
// (6984).
func UpdateBinary(ctx context.Context, card reader.Card, src UpdateMACSource, ref CardRef, w BinaryWrite) WriteOutcome {
	const what = "update binary"
	h, err := w.Header()
	if err != nil {
		return refused(what, err)
	}
	ch, err := GetChallenge(ctx, card)
	if err != nil {
		return refused(what, err)
	}
	mac, err := src.UpdateMAC(ctx, ref, ch, h, w.Data)
	if err != nil {
		return refused(what, fmt.Errorf("mac: %w", err))
	}
	cmd, err := UpdateBinaryCommand(w.SFI, w.Offset, w.Data, mac)
	if err != nil {
		return refused(what, err)
	}
	return sendWrite(ctx, card, cmd, what)
}

// CheckWrite reads back the bytes w writes (READ BINARY): Done if the card
// holds w.Data there, Void if it does not (the write did not happen: send
// it again), Uncertain if the card could not be read.
func CheckWrite(ctx context.Context, card reader.Card, w BinaryWrite) WriteOutcome {
	if _, err := w.Header(); err != nil {
		return WriteOutcome{Kind: Uncertain, Err: fmt.Errorf("epurse: check write: %w", err)}
	}
	b, err := reader.Transceive(ctx, card, ReadBinarySFI(w.SFI, w.Offset, byte(len(w.Data))))
	if err != nil {
		return WriteOutcome{Kind: Uncertain, Err: fmt.Errorf("epurse: check write: %w", cardError(err))}
	}
	if !bytes.Equal(b, w.Data) {
		return WriteOutcome{Kind: Void, Err: fmt.Errorf("epurse: check write: the card holds %X at %02X:%d, not the written %X", b, w.SFI, w.Offset, w.Data)}
	}
	return WriteOutcome{Kind: Done}
}

// BlockApplication blocks the selected application (APPLICATION BLOCK):
// temporarily, or permanently (no unblock possible). Afterwards the card
// answers SELECT with 6A81 (9303 permanently) and refuses purchases and
// loads.
func BlockApplication(ctx context.Context, card reader.Card, src BlockMACSource, ref CardRef, permanent bool) WriteOutcome {
	const what = "application block"
	h := AppBlockHeader(permanent)
	ch, err := GetChallenge(ctx, card)
	if err != nil {
		return refused(what, err)
	}
	mac, err := src.BlockMAC(ctx, ref, ch, h)
	if err != nil {
		return refused(what, fmt.Errorf("mac: %w", err))
	}
	return sendWrite(ctx, card, AppBlockCommand(permanent, mac), what)
}

// UnblockApplication reopens a temporarily blocked application
// (APPLICATION UNBLOCK). Select it first: SELECT answers 6A81
// (ErrAppBlocked) and leaves it selected for this command. A permanently
// blocked one is Refused with ErrLocked (9303).
func UnblockApplication(ctx context.Context, card reader.Card, src UnblockMACSource, ref CardRef) WriteOutcome {
	const what = "application unblock"
	h := AppUnblockHeader()
	ch, err := GetChallenge(ctx, card)
	if err != nil {
		return refused(what, err)
	}
	mac, err := src.UnblockMAC(ctx, ref, ch, h)
	if err != nil {
		return refused(what, fmt.Errorf("mac: %w", err))
	}
	return sendWrite(ctx, card, AppUnblockCommand(mac), what)
}

// ReloadPIN sets the holder's PIN to pin (2 to 12 digits) without the old
// one and resets its tries (PIN RELOAD, the desk's PIN reset). It needs no
// challenge.
func ReloadPIN(ctx context.Context, card reader.Card, src PINReloadMACSource, ref CardRef, pin string) WriteOutcome {
	const what = "pin reload"
	p, err := EncodePIN(pin)
	if err != nil {
		return refused(what, err)
	}
	defer clear(p)
	mac, err := src.PINReloadMAC(ctx, ref, p)
	if err != nil {
		return refused(what, fmt.Errorf("mac: %w", err))
	}
	cmd, err := PINReloadCommand(p, mac)
	if err != nil {
		return refused(what, err)
	}
	defer clear(cmd.Data)
	return sendWrite(ctx, card, cmd, what)
}
