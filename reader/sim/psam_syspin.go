package sim

import (
	"bytes"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
)

// psamKey is the PSAM's temporary key, set by DIVERSIFY KEY.
type psamKey struct {
	alg epurse.Algorithm
	key []byte
}

// diversify is DIVERSIFY KEY: 80 1A <key usage> <key version> Lc X, X the
// factor (8 bytes: 3DES) or factor ‖ ^factor (16 bytes: SM4). Only the
// system-PIN master key (usage 3A) is held; another usage, or a key
// version without that key, is 6A88. It ends an open purchase session: the
// temporary key register is the PSAM's only one.
func (p *PSAMCard) diversify(a apdu) []byte {
	p.sess, p.tmp = nil, nil
	if p.selected != selADF {
		return sw(reader.SWConditionsNotMet)
	}
	var alg epurse.Algorithm
	switch len(a.data) {
	case 8:
		alg = epurse.AlgDES
	case 16:
		alg = epurse.AlgSM4
	default:
		return sw(reader.SWWrongLength)
	}
	factor := [8]byte(a.data[:8])
	if x, _ := epurse.SystemPINInput(alg, factor); !bytes.Equal(x, a.data) {
		return sw(reader.SWWrongData) // not factor ‖ ^factor
	}
	mk, found := p.keys[a.p2]
	if a.p1 != sam.KeyUsageSystemPIN || !found || mk.SystemPIN == nil {
		return sw(reader.SWRefDataNotFound)
	}
	k, err := epurse.DiversifyKey(alg, mk.SystemPIN, factor)
	if err != nil {
		return sw(reader.SWWrongData)
	}
	p.tmp = &psamKey{alg: alg, key: k}
	return ok()
}

// encrypt is ENCRYPT: 80 FA 00 00 Lc data Le → Enc(temporary key, data),
// ECB, data a whole number of blocks; 6985 without a temporary key, 6A86
// for another P1 (05, MAC with an initial value, is not implemented).
func (p *PSAMCard) encrypt(a apdu) []byte {
	switch {
	case a.p1 != sam.EncryptP1ECB || a.p2 != 0:
		return sw(reader.SWWrongP1P2)
	case p.tmp == nil:
		return sw(reader.SWConditionsNotMet)
	}
	e, err := epurse.EncryptECB(p.tmp.alg, p.tmp.key, a.data)
	if err != nil {
		return sw(reader.SWWrongLength)
	}
	return ok(e)
}
