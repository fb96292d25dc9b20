package epurse

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"

	"github.com/openykt/yktd/reader"
)

// testCard is a small in-memory e-purse card for this package's tests (the
// product's virtual card is reader/sim). It answers raw APDUs in handle,
// as strictly as a card OS: INITIALIZE FOR LOAD needs the PIN verified
// since the last SELECT, only the last transaction's proof is kept, and
// the log holds the ten newest records.
type testCard struct {
	mu        sync.Mutex
	alg       Algorithm
	keys      CardKeys
	pub       PublicData
	balance   uint32
	offline   uint16
	online    uint16
	overdraft uint32
	pin       []byte
	pinTries  int
	rnd       uint32

	state    int // 0 idle, 1 purchase initialised, 2 load initialised
	amount   uint32
	termID   [6]byte
	random   [4]byte
	session  []byte              // load session key
	proofs   map[[3]byte][8]byte // the last transaction's only
	log      []Record            // oldest first, at most 10
	verified bool                // PIN verified since the last SELECT
}

// addLog appends a record, dropping the oldest beyond ten.
func (c *testCard) addLog(r Record) {
	c.log = append(c.log, r)
	if len(c.log) > 10 {
		c.log = c.log[len(c.log)-10:]
	}
}

// setProof replaces the proof of the last transaction.
func (c *testCard) setProof(tx byte, ctr uint16, mac, tac [4]byte) {
	clear(c.proofs)
	c.proofs[proofKey(tx, ctr)] = [8]byte(append(mac[:], tac[:]...))
}

var testMaster = Keys{
	Purchase: []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11},
	Load:     []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10},
	TAC:      []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF},
}

var testTermID = [6]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}

func newTestCard(alg Algorithm, serialLast byte, balance uint32) *testCard {
	pub := PublicData{
		Issuer: [8]byte{0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}, AppType: 0x02, AppVersion: 0x01,
		Serial: [10]byte{0x00, 0x00, 0x20, 0x24, 0x09, 0x01, 0x00, 0x00, 0x00, serialLast},
		Start:  [4]byte{0x20, 0x24, 0x09, 0x01}, End: [4]byte{0x20, 0x28, 0x08, 0x31},
		CardClass: 1, Status: CardStatusNormal, StatusListVersion: 7,
	}
	ck, err := testMaster.ForCard(alg, pub.Factor())
	if err != nil {
		panic(err)
	}
	return &testCard{alg: alg, keys: ck, pub: pub, balance: balance, pin: []byte{0x12, 0x34, 0x56}, pinTries: 3, proofs: map[[3]byte][8]byte{}}
}

func sw(s reader.SW) []byte { return []byte{s.SW1(), s.SW2()} }

func ok(data ...[]byte) []byte {
	var b []byte
	for _, d := range data {
		b = append(b, d...)
	}
	return append(b, 0x90, 0x00)
}

func proofKey(tx byte, ctr uint16) [3]byte { return [3]byte{tx, byte(ctr >> 8), byte(ctr)} }

// Transmit makes testCard a reader.Card by itself (for benchmarks).
func (c *testCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return c.handle(cmd) }

func (c *testCard) handle(cmd []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(cmd) < 4 {
		return sw(reader.SWWrongLength), nil
	}
	var data []byte
	if len(cmd) > 5 {
		n := int(cmd[4])
		if len(cmd) < 5+n {
			return sw(reader.SWWrongLength), nil
		}
		data = cmd[5 : 5+n]
	}
	ins, p1, p2 := cmd[1], cmd[2], cmd[3]
	prevState := c.state
	c.state = 0
	switch ins {
	case 0xA4:
		c.verified = false
		return ok([]byte{0x6F, 0x00}), nil
	case 0xB0:
		if p1 != 0x80|SFIPublicData {
			return sw(reader.SWFileNotFound), nil
		}
		return ok(c.pub.Bytes()), nil
	case 0xB2:
		if p2 != SFILog<<3|4 {
			return sw(reader.SWFileNotFound), nil
		}
		if int(p1) == 0 || int(p1) > len(c.log) {
			return sw(reader.SWRecordNotFound), nil
		}
		return ok(c.log[len(c.log)-int(p1)].Bytes()), nil
	case 0x5C:
		return ok(binary.BigEndian.AppendUint32(nil, c.balance)), nil
	case 0x20:
		if p2 != 0x00 {
			return sw(reader.SWRefDataNotFound), nil // no system PIN on this card
		}
		c.verified = false
		if c.pinTries == 0 {
			return sw(reader.SWAuthBlocked), nil
		}
		if !bytes.Equal(data, c.pin) {
			c.pinTries--
			if c.pinTries == 0 {
				return sw(reader.SWAuthBlocked), nil
			}
			return []byte{0x63, 0xC0 | byte(c.pinTries)}, nil
		}
		c.pinTries = 3
		c.verified = true
		return ok(), nil
	case 0x50:
		if len(data) != 11 {
			return sw(reader.SWWrongLength), nil
		}
		c.amount = binary.BigEndian.Uint32(data[1:5])
		c.termID = [6]byte(data[5:11])
		c.rnd++
		binary.BigEndian.PutUint32(c.random[:], 0xA5A50000+c.rnd)
		if p1 == 0x01 {
			if uint64(c.amount) > uint64(c.balance)+uint64(c.overdraft) {
				return sw(reader.SWBalanceInsufficient), nil
			}
			c.state = 1
			r := binary.BigEndian.AppendUint32(nil, c.balance)
			r = binary.BigEndian.AppendUint16(r, c.offline)
			r = append(r, byte(c.overdraft>>16), byte(c.overdraft>>8), byte(c.overdraft), 0x01, byte(c.alg))
			return ok(r, c.random[:]), nil
		}
		if !c.verified {
			return sw(reader.SWSecurityNotSatisfied), nil
		}
		sk, err := LoadSessionKey(c.alg, c.keys.DLK, c.random, c.online)
		if err != nil {
			return nil, err
		}
		mac1, _ := LoadMAC1(c.alg, sk, c.balance, c.amount, c.termID)
		c.session, c.state = sk, 2
		r := binary.BigEndian.AppendUint32(nil, c.balance)
		r = binary.BigEndian.AppendUint16(r, c.online)
		return ok(r, []byte{0x01, byte(c.alg)}, c.random[:], mac1[:]), nil
	case 0x54:
		if prevState != 1 {
			return sw(reader.SWConditionsNotMet), nil
		}
		if len(data) != 15 {
			return sw(reader.SWWrongLength), nil
		}
		seq := binary.BigEndian.Uint32(data[0:4])
		dt := DateTime(data[4:11])
		sk, err := PurchaseSessionKey(c.alg, c.keys.DPK, c.random, c.offline, seq)
		if err != nil {
			return nil, err
		}
		if want, _ := PurchaseMAC1(c.alg, sk, c.amount, c.termID, dt); !bytes.Equal(want[:], data[11:15]) {
			return sw(reader.SWMAC1Wrong), nil
		}
		c.balance -= c.amount
		c.offline++
		mac2, _ := PurchaseMAC2(c.alg, sk, c.amount)
		tac, _ := PurchaseTAC(c.alg, c.keys.DTK, c.amount, c.termID, seq, dt)
		c.setProof(TxPurchase, c.offline, mac2, tac)
		c.addLog(Record{Counter: c.offline - 1, Amount: c.amount, Type: TxPurchase, TermID: c.termID, Time: dt})
		return ok(tac[:], mac2[:]), nil
	case 0x52:
		if prevState != 2 {
			return sw(reader.SWConditionsNotMet), nil
		}
		if len(data) != 11 {
			return sw(reader.SWWrongLength), nil
		}
		dt := DateTime(data[0:7])
		if want, _ := LoadMAC2(c.alg, c.session, c.amount, c.termID, dt); !bytes.Equal(want[:], data[7:11]) {
			return sw(reader.SWMAC1Wrong), nil
		}
		c.balance += c.amount
		tac, _ := LoadTAC(c.alg, c.keys.DTK, c.balance, c.online, c.amount, c.termID, dt)
		mac2 := [4]byte(data[7:11])
		c.addLog(Record{Counter: c.online, Amount: c.amount, Type: TxLoad, TermID: c.termID, Time: dt})
		c.online++
		c.setProof(TxLoad, c.online, mac2, tac)
		return ok(tac[:]), nil
	case 0x5A:
		if len(data) != 2 {
			return sw(reader.SWWrongLength), nil
		}
		pr, found := c.proofs[proofKey(p2, binary.BigEndian.Uint16(data))]
		if !found {
			return sw(swProofUnavailable), nil
		}
		return ok(pr[:]), nil
	}
	return sw(reader.SWInsNotSupported), nil
}
