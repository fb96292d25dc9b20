package epurse

import (
	"crypto/cipher"
	"crypto/des"
	"fmt"
)

// The crypto of secure messaging (线路保护): the MAC a terminal (with the
// ledger's key service or a PSAM) appends to a command that changes the
// card after issuance — UPDATE BINARY of a file, APPLICATION BLOCK and
// UNBLOCK — and the MAC of PIN RELOAD.
//
// AlgDES, 16-byte card key K = K_L ‖ K_R (the card's diversified DAMK,
// DABK or DAUK): ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC") with
// padding method 2 —
//
//	data  = the command header as sent (CLA INS P1 P2 Lc, Lc counting the
//	        MAC) ‖ the command data, padded with 80 and then 00 to a whole
//	        number of 8-byte blocks (a full block 80 00.. when the data is
//	        already aligned)
//	IV    = the card's GET CHALLENGE (4 bytes) ‖ 00 00 00 00
//	chain = single-DES CBC under K_L over every block from IV
//	MAC   = first 4 bytes of Enc(K_L, Dec(K_R, chain))
//
// Checked against the published card-issuance logs listed in
// testdata/sm-vectors.json (UPDATE BINARY, UPDATE RECORD, WRITE KEY,
// APPLICATION BLOCK and UNBLOCK). Full 3DES chaining (every block under
// K_L K_R K_L) does not reproduce them. None of those logs has data that is
// already block-aligned, so the full pad block in that case follows ISO/IEC
// 9797-1 method 2 and JR/T 0025's MAC rule, not a vector (one field
// implementation, Kingstar's, omits it; its PSAM path does not).
//
// AlgSM4 (assumption, no vector found): the same construction with SM4's
// 16-byte blocks, which needs no retail step since the key is the block
// cipher's own: SM4-CBC-MAC under the 16-byte card key, IV = challenge ‖
// twelve 00 bytes, padding 80 00.. to 16 bytes, first 4 bytes. This
// mirrors how this package does the SM4 purchase and load MACs (MAC with
// 16-byte blocks); check it against the card OS manual of SM4 cards before
// issuing them.

// SecureMAC computes the secure-messaging MAC of data (the concatenation
// of data's parts, usually the 5 header bytes and the command data) under
// a 16-byte card key, with the IV made of the card's 4-byte challenge (see
// above for AlgDES and AlgSM4).
func SecureMAC(alg Algorithm, key []byte, challenge [4]byte, data ...[]byte) ([4]byte, error) {
	if len(key) != 16 {
		return [4]byte{}, fmt.Errorf("%w: secure-messaging key of %d bytes, want 16", ErrKeyLength, len(key))
	}
	var iv [16]byte
	copy(iv[:], challenge[:])
	switch alg {
	case AlgDES:
		kl, err := des.NewCipher(key[:8])
		if err != nil {
			return [4]byte{}, err
		}
		kr, err := des.NewCipher(key[8:])
		if err != nil {
			return [4]byte{}, err
		}
		return chainMAC(kl, iv[:8], func(last []byte) {
			kr.Decrypt(last, last)
			kl.Encrypt(last, last)
		}, data), nil
	case AlgSM4:
		b, err := blockCipher(AlgSM4, key)
		if err != nil {
			return [4]byte{}, err
		}
		return chainMAC(b, iv[:], nil, data), nil
	}
	return [4]byte{}, fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, alg)
}

// chainMAC is CBC-MAC under b from iv over data padded 80 00.. (always,
// a full block when aligned); final, when set, transforms the last
// block's output (the retail MAC's extra step). The result is the first 4
// bytes.
func chainMAC(b cipher.Block, iv []byte, final func([]byte), data [][]byte) [4]byte {
	bs := b.BlockSize()
	var buf [16]byte
	acc := buf[:bs]
	copy(acc, iv)
	n := 0
	for _, p := range data {
		for _, c := range p {
			acc[n] ^= c
			n++
			if n == bs {
				b.Encrypt(acc, acc)
				n = 0
			}
		}
	}
	acc[n] ^= 0x80
	b.Encrypt(acc, acc)
	if final != nil {
		final(acc)
	}
	return [4]byte(acc[:4])
}

// PINReloadMAC is the MAC of PIN RELOAD (80 5E 00 00): the MAC of this
// package (zero IV, padding 80 00..) over the new PIN block only (BCD, as
// the command carries it), under the card's PIN reload key DRPK folded as
// the TAC key is — AlgDES: the single-DES key DRPK_L ⊕ DRPK_R; AlgSM4
// (assumption, no vector): the 16-byte DRPK as is. The AlgDES form is the
// one a published card test library uses (research notes kiosk-water §3.4);
// no card log with a PIN RELOAD was found, so it has no vector.
//
// The MAC has no challenge: a recorded PIN RELOAD command can be replayed
// to the same card. That is the card OS's design; only the ledger and a
// desk's PSAM may compute it.
func PINReloadMAC(alg Algorithm, drpk, pin []byte) ([4]byte, error) {
	k, err := tacKey(alg, drpk)
	if err != nil {
		return [4]byte{}, fmt.Errorf("epurse: pin reload: %w", err)
	}
	return MAC(alg, k, pin)
}
