package epurse

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/emmansun/gmsm/sm4"
)

// Algorithm is the algorithm identifier a card reports in INITIALIZE
// responses (JR/T 0025 EP/ED: "算法标识").
type Algorithm byte

// Algorithm identifiers.
//
// AlgDES (00) is the identifier of the 3DES/DES e-purse of JR/T 0025-2005
// (PBOC 2.0 part 2) and every published purchase/load trace (cnblogs
// ttss/p/4280430, ncuisine 379: "算法标识 00").
//
// AlgSM4 (04): the SM4 e-purse of PBOC 3.0 (JR/T 0025-2013) and of the
// transit cards (JT/T 978) reports the algorithm in the same byte; 04 is
// the value card OS manuals use for SM4. We found no freely readable copy
// of the normative table, so the value is an assumption to check against
// the card OS manual of the cards actually issued (see DESIGN.md §4).
const (
	AlgDES Algorithm = 0x00 // DES/3DES per JR/T 0025
	AlgSM4 Algorithm = 0x04 // SM4 (GM/T 0002); code 04 assumed, see above
)

// String names the algorithm.
func (a Algorithm) String() string {
	switch a {
	case AlgDES:
		return "3des"
	case AlgSM4:
		return "sm4"
	default:
		return fmt.Sprintf("alg(%02X)", byte(a))
	}
}

// Transaction type identifiers of JR/T 0025 (P2 of GET TRANSACTION PROVE
// and part of the MAC and TAC input data).
const (
	TxEDLoad   byte = 0x01 // electronic deposit (存折) load
	TxLoad     byte = 0x02 // e-purse load (圈存)
	TxPurchase byte = 0x06 // e-purse purchase (消费)
)

// DateTime is a transaction date and time as sent to the card: BCD
// YYYYMMDDhhmmss (4-byte date and 3-byte time of DEBIT FOR PURCHASE and
// CREDIT FOR LOAD).
type DateTime [7]byte

// NewDateTime encodes t (in t's location) as BCD. Years outside 0..9999 are
// clamped.
func NewDateTime(t time.Time) DateTime {
	y := min(max(t.Year(), 0), 9999)
	var d DateTime
	d[0], d[1] = bcd(y/100), bcd(y%100)
	d[2], d[3] = bcd(int(t.Month())), bcd(t.Day())
	d[4], d[5], d[6] = bcd(t.Hour()), bcd(t.Minute()), bcd(t.Second())
	return d
}

func bcd(n int) byte { return byte(n/10)<<4 | byte(n%10) }

// Date returns the 4-byte BCD date YYYYMMDD.
func (d DateTime) Date() [4]byte { return [4]byte(d[:4]) }

// Time returns the 3-byte BCD time hhmmss.
func (d DateTime) Time() [3]byte { return [3]byte(d[4:]) }

// In decodes the date and time in loc. It fails on non-BCD digits or an
// impossible date.
func (d DateTime) In(loc *time.Location) (time.Time, error) {
	var n [7]int
	for i, b := range d {
		hi, lo := b>>4, b&0x0F
		if hi > 9 || lo > 9 {
			return time.Time{}, fmt.Errorf("epurse: date-time %X: not BCD", d[:])
		}
		n[i] = int(hi)*10 + int(lo)
	}
	t := time.Date(n[0]*100+n[1], time.Month(n[2]), n[3], n[4], n[5], n[6], 0, loc)
	if t.Year() != n[0]*100+n[1] || int(t.Month()) != n[2] || t.Day() != n[3] ||
		t.Hour() != n[4] || t.Minute() != n[5] || t.Second() != n[6] {
		return time.Time{}, fmt.Errorf("epurse: date-time %X: not a valid date", d[:])
	}
	return t, nil
}

// String renders the BCD digits as "YYYY-MM-DD hh:mm:ss".
func (d DateTime) String() string {
	return fmt.Sprintf("%02X%02X-%02X-%02X %02X:%02X:%02X", d[0], d[1], d[2], d[3], d[4], d[5], d[6])
}

// blockCipher returns the block cipher of alg under a key. For AlgDES a
// 16-byte key is two-key 3DES (K1 K2 K1) and an 8-byte key single DES.
func blockCipher(alg Algorithm, key []byte) (cipher.Block, error) {
	switch alg {
	case AlgDES:
		switch len(key) {
		case 8:
			return des.NewCipher(key)
		case 16:
			k := make([]byte, 24)
			copy(k, key)
			copy(k[16:], key[:8])
			return des.NewTripleDESCipher(k)
		}
	case AlgSM4:
		if len(key) == 16 {
			return sm4.NewCipher(key)
		}
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedAlgorithm, alg)
	}
	return nil, fmt.Errorf("%w: %s key of %d bytes", ErrKeyLength, alg, len(key))
}

// DiversifyKey derives a card's 16-byte key from an issuer master key and
// the 8-byte application serial number (the diversification factor).
//
// AlgDES (JR/T 0025 key diversification as done by PSAMs, "80 1A"): left =
// 3DES(MK, factor), right = 3DES(MK, ^factor).
//
// AlgSM4 (assumption, documented): one SM4 block, SM4(MK, factor ‖ ^factor),
// which is the same left/right construction with a 16-byte block.
func DiversifyKey(alg Algorithm, master []byte, serial [8]byte) ([]byte, error) {
	if len(master) != 16 {
		return nil, fmt.Errorf("%w: master key of %d bytes, want 16", ErrKeyLength, len(master))
	}
	b, err := blockCipher(alg, master)
	if err != nil {
		return nil, err
	}
	in := make([]byte, 16)
	copy(in, serial[:])
	for i := range 8 {
		in[8+i] = ^serial[i]
	}
	out := make([]byte, 16)
	if b.BlockSize() == 8 {
		b.Encrypt(out[:8], in[:8])
		b.Encrypt(out[8:], in[8:])
	} else {
		b.Encrypt(out, in)
	}
	return out, nil
}

// EncryptECB encrypts data (a whole number of blocks: 8 bytes for AlgDES,
// 16 for AlgSM4) under a 16-byte key in ECB mode, as a PSAM's ENCRYPT
// (80 FA) does with its temporary key.
func EncryptECB(alg Algorithm, key, data []byte) ([]byte, error) {
	b, err := blockCipher(alg, key)
	if err != nil {
		return nil, err
	}
	bs := b.BlockSize()
	if len(data) == 0 || len(data)%bs != 0 {
		return nil, fmt.Errorf("%w: %d bytes of data, want a multiple of %d", ErrBadRequest, len(data), bs)
	}
	out := make([]byte, len(data))
	for i := 0; i < len(data); i += bs {
		b.Encrypt(out[i:i+bs], data[i:i+bs])
	}
	return out, nil
}

// sessionKey encrypts the 8-byte session key input under a card key.
// AlgDES: 3DES-ECB of the 8 bytes, an 8-byte single-DES session key
// (JR/T 0025 EP: SESPK / SESLK). AlgSM4 (assumption, documented): SM4 of
// the 8 bytes padded 80 00.. to 16 (ISO/IEC 9797-1 method 2), the whole
// 16-byte block is the SM4 session key.
func sessionKey(alg Algorithm, key []byte, in [8]byte) ([]byte, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("%w: card key of %d bytes, want 16", ErrKeyLength, len(key))
	}
	b, err := blockCipher(alg, key)
	if err != nil {
		return nil, err
	}
	blk := make([]byte, b.BlockSize())
	copy(blk, in[:])
	if len(blk) > 8 {
		blk[8] = 0x80
	}
	b.Encrypt(blk, blk)
	return blk, nil
}

// PurchaseSessionKey derives the purchase session key SESPK from the card's
// purchase key DPK: Enc(DPK, random ‖ offline counter ‖ last 2 bytes of the
// terminal transaction sequence) (JR/T 0025 EP purchase, "过程密钥").
func PurchaseSessionKey(alg Algorithm, dpk []byte, random [4]byte, offlineCounter uint16, termSeq uint32) ([]byte, error) {
	var in [8]byte
	copy(in[:4], random[:])
	binary.BigEndian.PutUint16(in[4:], offlineCounter)
	binary.BigEndian.PutUint16(in[6:], uint16(termSeq))
	return sessionKey(alg, dpk, in)
}

// LoadSessionKey derives the load session key SESLK from the card's load
// key DLK: Enc(DLK, random ‖ online counter ‖ 80 00) (JR/T 0025 EP load).
func LoadSessionKey(alg Algorithm, dlk []byte, random [4]byte, onlineCounter uint16) ([]byte, error) {
	var in [8]byte
	copy(in[:4], random[:])
	binary.BigEndian.PutUint16(in[4:], onlineCounter)
	in[6] = 0x80
	return sessionKey(alg, dlk, in)
}

// MAC is the e-purse MAC of JR/T 0025: CBC-MAC with a zero initial value
// over the concatenated data, always padded with 80 and then 00 to a whole
// block (a full block 80 00.. is appended when the data already fills its
// last block); the result is the first 4 bytes of the last block.
//
// AlgDES takes an 8-byte key (single DES, the session key or the folded
// TAC key); a 16-byte key is used as two-key 3DES. AlgSM4 takes a 16-byte
// key and 16-byte blocks.
func MAC(alg Algorithm, key []byte, data ...[]byte) ([4]byte, error) {
	b, err := blockCipher(alg, key)
	if err != nil {
		return [4]byte{}, err
	}
	bs := b.BlockSize()
	var buf [16]byte
	acc := buf[:bs]
	n := 0
	feed := func(p []byte) {
		for _, c := range p {
			acc[n] ^= c
			n++
			if n == bs {
				b.Encrypt(acc, acc)
				n = 0
			}
		}
	}
	for _, p := range data {
		feed(p)
	}
	acc[n] ^= 0x80 // padding: 80 then zeros (XOR with zero is a no-op)
	b.Encrypt(acc, acc)
	return [4]byte(acc[:4]), nil
}

// VerifyMAC reports whether two MACs are equal, in constant time.
func VerifyMAC(got, want [4]byte) bool {
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// PurchaseMAC1 is the terminal's (PSAM's) MAC1 of DEBIT FOR PURCHASE over
// amount(4) ‖ type 06 ‖ terminal id(6) ‖ date(4) ‖ time(3).
func PurchaseMAC1(alg Algorithm, sessionKey []byte, amount uint32, termID [6]byte, dt DateTime) ([4]byte, error) {
	return MAC(alg, sessionKey, be32(amount), []byte{TxPurchase}, termID[:], dt[:])
}

// PurchaseMAC2 is the card's MAC2 of DEBIT FOR PURCHASE over amount(4).
func PurchaseMAC2(alg Algorithm, sessionKey []byte, amount uint32) ([4]byte, error) {
	return MAC(alg, sessionKey, be32(amount))
}

// tacKey returns the TAC key: AlgDES folds the 16-byte DTK into the
// single-DES key DTK-left XOR DTK-right (JR/T 0025; uzzz.org 2017 "TAC密钥左8
// 字节与右8字节异或"). AlgSM4 (assumption, documented): the 16-byte DTK as is,
// since SM4 has no 8-byte key to fold into.
func tacKey(alg Algorithm, dtk []byte) ([]byte, error) {
	if len(dtk) != 16 {
		return nil, fmt.Errorf("%w: DTK of %d bytes, want 16", ErrKeyLength, len(dtk))
	}
	if alg != AlgDES {
		return dtk, nil
	}
	k := make([]byte, 8)
	for i := range k {
		k[i] = dtk[i] ^ dtk[8+i]
	}
	return k, nil
}

// PurchaseTAC is the card's TAC of a purchase, over amount(4) ‖ type 06 ‖
// terminal id(6) ‖ terminal seq(4) ‖ date(4) ‖ time(3) (JR/T 0025 EP
// purchase; the same order is shown by the cnblogs ttss/p/4280430 example
// and uzzz.org 2017 "TAC的计算方法").
func PurchaseTAC(alg Algorithm, dtk []byte, amount uint32, termID [6]byte, termSeq uint32, dt DateTime) ([4]byte, error) {
	k, err := tacKey(alg, dtk)
	if err != nil {
		return [4]byte{}, err
	}
	return MAC(alg, k, be32(amount), []byte{TxPurchase}, termID[:], be32(termSeq), dt[:])
}

// LoadMAC1 is the card's MAC1 of INITIALIZE FOR LOAD over old balance(4) ‖
// amount(4) ‖ type 02 ‖ terminal id(6).
func LoadMAC1(alg Algorithm, sessionKey []byte, balanceBefore, amount uint32, termID [6]byte) ([4]byte, error) {
	return loadMAC1(alg, sessionKey, TxLoad, balanceBefore, amount, termID)
}

func loadMAC1(alg Algorithm, sk []byte, tx byte, balanceBefore, amount uint32, termID [6]byte) ([4]byte, error) {
	return MAC(alg, sk, be32(balanceBefore), be32(amount), []byte{tx}, termID[:])
}

// LoadMAC2 is the host's MAC2 of CREDIT FOR LOAD over amount(4) ‖ type 02 ‖
// terminal id(6) ‖ date(4) ‖ time(3).
func LoadMAC2(alg Algorithm, sessionKey []byte, amount uint32, termID [6]byte, dt DateTime) ([4]byte, error) {
	return loadMAC2(alg, sessionKey, TxLoad, amount, termID, dt)
}

func loadMAC2(alg Algorithm, sk []byte, tx byte, amount uint32, termID [6]byte, dt DateTime) ([4]byte, error) {
	return MAC(alg, sk, be32(amount), []byte{tx}, termID[:], dt[:])
}

// LoadTAC is the card's TAC of a load, over new balance(4) ‖ online counter
// before the load(2) ‖ amount(4) ‖ type 02 ‖ terminal id(6) ‖ date(4) ‖
// time(3) (JR/T 0025 EP load; the counter is the one INITIALIZE FOR LOAD
// returned, research notes §2.4 [U]).
func LoadTAC(alg Algorithm, dtk []byte, balanceAfter uint32, onlineCounter uint16, amount uint32, termID [6]byte, dt DateTime) ([4]byte, error) {
	k, err := tacKey(alg, dtk)
	if err != nil {
		return [4]byte{}, err
	}
	return MAC(alg, k, be32(balanceAfter), binary.BigEndian.AppendUint16(nil, onlineCounter), be32(amount), []byte{TxLoad}, termID[:], dt[:])
}

// Keys is an issuer's master key set (what a SAM or the ledger holds).
// Each key is 16 bytes; card keys are diversified from them by the card's
// application serial number.
type Keys struct {
	Purchase []byte // DPK master (消费主密钥)
	Load     []byte // DLK master (圈存主密钥)
	TAC      []byte // DTK master (TAC 主密钥)
	// SystemPIN is the system-PIN master key (系统PIN主密钥) from which
	// each card's system PIN is derived (DeriveSystemPIN); nil when the
	// holder of these keys has none (it then cannot open loads with the
	// system PIN).
	SystemPIN []byte
	// The keys of the card writes after issuance (secure messaging, see
	// smcrypto.go); each is nil when the holder of these keys has none,
	// and the cards' keys of that kind are then nil too:
	Maintenance []byte // application maintenance key DAMK master (应用维护主密钥): UPDATE BINARY of files 0x15 and 0x12
	AppBlock    []byte // application block key DABK master (应用锁定主密钥): APPLICATION BLOCK
	AppUnblock  []byte // application unblock key DAUK master (应用解锁主密钥): APPLICATION UNBLOCK
	PINReload   []byte // PIN reload key DRPK master (PIN 重装主密钥): PIN RELOAD
}

// CardKeys are one card's diversified application keys. DAMK, DABK, DAUK
// and DRPK are nil for a card issued without them (Keys without those
// master keys, or a virtual card's state file from before them).
type CardKeys struct {
	DPK, DLK, DTK []byte
	DAMK          []byte `json:",omitempty"` // maintenance: UPDATE BINARY under secure messaging
	DABK          []byte `json:",omitempty"` // APPLICATION BLOCK
	DAUK          []byte `json:",omitempty"` // APPLICATION UNBLOCK
	DRPK          []byte `json:",omitempty"` // PIN RELOAD
}

// ForCard diversifies the master keys for the card with the given
// application serial number.
func (k Keys) ForCard(alg Algorithm, serial [8]byte) (CardKeys, error) {
	var ck CardKeys
	var err error
	if ck.DPK, err = DiversifyKey(alg, k.Purchase, serial); err != nil {
		return CardKeys{}, fmt.Errorf("epurse: purchase key: %w", err)
	}
	if ck.DLK, err = DiversifyKey(alg, k.Load, serial); err != nil {
		return CardKeys{}, fmt.Errorf("epurse: load key: %w", err)
	}
	if ck.DTK, err = DiversifyKey(alg, k.TAC, serial); err != nil {
		return CardKeys{}, fmt.Errorf("epurse: tac key: %w", err)
	}
	for _, o := range []struct {
		name   string
		master []byte
		card   *[]byte
	}{
		{"maintenance", k.Maintenance, &ck.DAMK},
		{"app block", k.AppBlock, &ck.DABK},
		{"app unblock", k.AppUnblock, &ck.DAUK},
		{"pin reload", k.PINReload, &ck.DRPK},
	} {
		if o.master == nil {
			continue
		}
		if *o.card, err = DiversifyKey(alg, o.master, serial); err != nil {
			return CardKeys{}, fmt.Errorf("epurse: %s key: %w", o.name, err)
		}
	}
	return ck, nil
}
