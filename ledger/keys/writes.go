package keys

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/reader/epurse"
)

var _ epurse.WriteKeys = (*Software)(nil)

// writeKey returns the card's diversified write key chosen by pick, for
// the MAC named what.
func (s *Software) writeKey(ctx context.Context, what string, ref epurse.CardRef, pick func(epurse.CardKeys) []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keys: %s: %w", what, err)
	}
	ck, err := s.cardKeys(Card{KeyVersion: ref.KeyVersion, Algorithm: ref.Algorithm, Serial: ref.Serial})
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", what, err)
	}
	k := pick(ck)
	if k == nil {
		return nil, fmt.Errorf("keys: %s: key version %d has no such master key: %w", what, ref.KeyVersion, ErrNoKey)
	}
	return k, nil
}

func (s *Software) secureMAC(ctx context.Context, what string, ref epurse.CardRef, pick func(epurse.CardKeys) []byte, challenge [4]byte, header [5]byte, data []byte) ([4]byte, error) {
	k, err := s.writeKey(ctx, what, ref, pick)
	if err != nil {
		return [4]byte{}, err
	}
	mac, err := epurse.SecureMAC(ref.Algorithm, k, challenge, header[:], data)
	if err != nil {
		return [4]byte{}, fmt.Errorf("keys: %s: %w: %w", what, ErrUnsupportedAlg, err)
	}
	return mac, nil
}

// UpdateMAC computes the MAC of UPDATE BINARY under secure messaging with
// the card's DAMK.
func (s *Software) UpdateMAC(ctx context.Context, ref epurse.CardRef, challenge [4]byte, header [5]byte, data []byte) ([4]byte, error) {
	want, err := epurse.UpdateBinaryHeader(header[2]&0x1F, header[3], len(data))
	if err != nil || header != want || header[2]&0xE0 != 0x80 {
		return [4]byte{}, fmt.Errorf("keys: update MAC: header % X with %d data bytes: %w", header[:], len(data), ErrBadCommand)
	}
	return s.secureMAC(ctx, "update MAC", ref, func(ck epurse.CardKeys) []byte { return ck.DAMK }, challenge, header, data)
}

// BlockMAC computes the MAC of APPLICATION BLOCK with the card's DABK.
func (s *Software) BlockMAC(ctx context.Context, ref epurse.CardRef, challenge [4]byte, header [5]byte) ([4]byte, error) {
	if header != epurse.AppBlockHeader(false) && header != epurse.AppBlockHeader(true) {
		return [4]byte{}, fmt.Errorf("keys: block MAC: header % X: %w", header[:], ErrBadCommand)
	}
	return s.secureMAC(ctx, "block MAC", ref, func(ck epurse.CardKeys) []byte { return ck.DABK }, challenge, header, nil)
}

// UnblockMAC computes the MAC of APPLICATION UNBLOCK with the card's DAUK.
func (s *Software) UnblockMAC(ctx context.Context, ref epurse.CardRef, challenge [4]byte, header [5]byte) ([4]byte, error) {
	if header != epurse.AppUnblockHeader() {
		return [4]byte{}, fmt.Errorf("keys: unblock MAC: header % X: %w", header[:], ErrBadCommand)
	}
	return s.secureMAC(ctx, "unblock MAC", ref, func(ck epurse.CardKeys) []byte { return ck.DAUK }, challenge, header, nil)
}

// PINReloadMAC computes the MAC of PIN RELOAD over the PIN block with the
// card's DRPK.
func (s *Software) PINReloadMAC(ctx context.Context, ref epurse.CardRef, pin []byte) ([4]byte, error) {
	cmd, err := epurse.PINReloadCommand(pin, [4]byte{}) // checks the PIN block
	clear(cmd.Data)
	if err != nil {
		return [4]byte{}, fmt.Errorf("keys: pin reload MAC: the PIN block is not 2 to 12 BCD digits: %w", ErrBadCommand)
	}
	k, err := s.writeKey(ctx, "pin reload MAC", ref, func(ck epurse.CardKeys) []byte { return ck.DRPK })
	if err != nil {
		return [4]byte{}, err
	}
	mac, err := epurse.PINReloadMAC(ref.Algorithm, k, pin)
	if err != nil {
		return [4]byte{}, fmt.Errorf("keys: pin reload MAC: %w: %w", ErrUnsupportedAlg, err)
	}
	return mac, nil
}
