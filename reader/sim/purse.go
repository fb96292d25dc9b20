package sim

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// session is an open purchase or load, between INITIALIZE and DEBIT /
// CREDIT. It is volatile: a reset or tear loses it.
type session struct {
	typ     byte // epurse.TxPurchase or epurse.TxLoad
	amount  uint32
	termID  [6]byte
	random  [4]byte
	counter uint16 // counter at INITIALIZE (before the transaction)
	balance uint32
	loadKey []byte // load session key (purchase keys need the terminal seq)
}

func (c *Card) challenge() ([4]byte, bool) {
	var r [4]byte
	_, err := io.ReadFull(c.random, r[:])
	return r, err == nil
}

// initCheck validates INITIALIZE's header and data: key index(1) ‖
// amount(4) ‖ terminal id(6). It returns a status word on refusal.
func (c *Card) initCheck(a apdu) (amount uint32, termID [6]byte, refusal []byte) {
	switch {
	case a.p2 != 0x02: // only the e-purse (02), no e-deposit (01)
		return 0, termID, sw(reader.SWWrongP1P2)
	case len(a.data) != 11:
		return 0, termID, sw(reader.SWWrongLength)
	case c.selected != selADF:
		return 0, termID, sw(reader.SWConditionsNotMet)
	case a.data[0] != c.st.Profile.KeyIndex:
		return 0, termID, sw(reader.SWKeyIndexUnsupported)
	}
	return binary.BigEndian.Uint32(a.data[1:5]), [6]byte(a.data[5:11]), nil
}

// initPurchase is INITIALIZE FOR PURCHASE: 80 50 01 02 0B. Amount 0 is
// allowed (terminals use it to read the counter during tear recovery).
func (c *Card) initPurchase(a apdu) []byte {
	c.sess = nil
	amount, termID, refusal := c.initCheck(a)
	if refusal != nil {
		return refusal
	}
	st := c.st
	if amount > st.Balance {
		return sw(reader.SWBalanceInsufficient)
	}
	if st.OfflineCounter == math.MaxUint16 {
		return sw(swCounterExhausted)
	}
	r, good := c.challenge()
	if !good {
		return sw(swMemoryFailure)
	}
	c.sess = &session{typ: epurse.TxPurchase, amount: amount, termID: termID, random: r, counter: st.OfflineCounter, balance: st.Balance}
	b := binary.BigEndian.AppendUint32(nil, st.Balance)
	b = binary.BigEndian.AppendUint16(b, st.OfflineCounter)
	od := st.Profile.Overdraft
	b = append(b, byte(od>>16), byte(od>>8), byte(od), st.Profile.KeyVersion, byte(st.Profile.Algorithm))
	return ok(b, r[:])
}

// debit is DEBIT FOR PURCHASE: 80 54 01 00 0F terminal seq(4) ‖ date(4) ‖
// time(3) ‖ MAC1(4) → TAC(4) ‖ MAC2(4). The session is consumed whatever
// the outcome; a wrong MAC1 (9302) debits nothing.
func (c *Card) debit(a apdu) []byte {
	s := c.sess
	c.sess = nil
	switch {
	case a.p1 != 0x01 || a.p2 != 0x00:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 15:
		return sw(reader.SWWrongLength)
	case s == nil || s.typ != epurse.TxPurchase || c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	}
	st := c.st
	alg := st.Profile.Algorithm
	termSeq := binary.BigEndian.Uint32(a.data[0:4])
	dt := epurse.DateTime(a.data[4:11])
	mac1 := [4]byte(a.data[11:15])
	sk, err := epurse.PurchaseSessionKey(alg, st.Keys.DPK, s.random, s.counter, termSeq)
	if err != nil {
		return sw(swMemoryFailure)
	}
	want, err := epurse.PurchaseMAC1(alg, sk, s.amount, s.termID, dt)
	if err != nil || !epurse.VerifyMAC(mac1, want) {
		return sw(reader.SWMAC1Wrong)
	}
	if s.amount > st.Balance {
		return sw(reader.SWBalanceInsufficient)
	}
	tac, err1 := epurse.PurchaseTAC(alg, st.Keys.DTK, s.amount, s.termID, termSeq, dt)
	mac2, err2 := epurse.PurchaseMAC2(alg, sk, s.amount)
	if err1 != nil || err2 != nil {
		return sw(swMemoryFailure)
	}
	if !c.commit(func(st *cardState) {
		st.Balance -= s.amount
		st.OfflineCounter++
		st.addLog(logRecord(st.Profile.loggedCounter(s.counter), st.Profile.Overdraft, s.amount, epurse.TxPurchase, s.termID, dt))
		st.addProof(proof{Type: epurse.TxPurchase, Counter: st.OfflineCounter, MAC: mac2, TAC: tac})
	}) {
		return sw(swMemoryFailure)
	}
	return ok(tac[:], mac2[:])
}

// initLoad is INITIALIZE FOR LOAD: 80 50 00 02 0B → balance(4) ‖ online
// counter(2) ‖ key version(1) ‖ algorithm(1) ‖ random(4) ‖ MAC1(4). As on
// real card OSes it needs a PIN (the holder's or the system PIN) verified
// since the application was selected: 6982 otherwise.
func (c *Card) initLoad(a apdu) []byte {
	c.sess = nil
	amount, termID, refusal := c.initCheck(a)
	if refusal != nil {
		return refusal
	}
	if c.verified == 0 {
		return sw(reader.SWSecurityNotSatisfied)
	}
	st := c.st
	if uint64(st.Balance)+uint64(amount) > uint64(st.Profile.MaxBalance) {
		return sw(reader.SWWrongData) // above the card's maximum balance
	}
	if st.OnlineCounter == math.MaxUint16 {
		return sw(swCounterExhausted)
	}
	r, good := c.challenge()
	if !good {
		return sw(swMemoryFailure)
	}
	alg := st.Profile.Algorithm
	sk, err := epurse.LoadSessionKey(alg, st.Keys.DLK, r, st.OnlineCounter)
	if err != nil {
		return sw(swMemoryFailure)
	}
	mac1, err := epurse.LoadMAC1(alg, sk, st.Balance, amount, termID)
	if err != nil {
		return sw(swMemoryFailure)
	}
	c.sess = &session{typ: epurse.TxLoad, amount: amount, termID: termID, random: r, counter: st.OnlineCounter, balance: st.Balance, loadKey: sk}
	b := binary.BigEndian.AppendUint32(nil, st.Balance)
	b = binary.BigEndian.AppendUint16(b, st.OnlineCounter)
	b = append(b, st.Profile.KeyVersion, byte(alg))
	return ok(b, r[:], mac1[:])
}

// credit is CREDIT FOR LOAD: 80 52 00 00 0B date(4) ‖ time(3) ‖ MAC2(4) →
// TAC(4). A wrong MAC2 (9302) credits nothing.
func (c *Card) credit(a apdu) []byte {
	s := c.sess
	c.sess = nil
	switch {
	case a.p1 != 0 || a.p2 != 0:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 11:
		return sw(reader.SWWrongLength)
	case s == nil || s.typ != epurse.TxLoad || c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	}
	st := c.st
	alg := st.Profile.Algorithm
	dt := epurse.DateTime(a.data[0:7])
	mac2 := [4]byte(a.data[7:11])
	want, err := epurse.LoadMAC2(alg, s.loadKey, s.amount, s.termID, dt)
	if err != nil || !epurse.VerifyMAC(mac2, want) {
		return sw(reader.SWMAC1Wrong)
	}
	if st.OnlineCounter != s.counter || st.Balance != s.balance {
		return sw(reader.SWConditionsNotMet)
	}
	newBal := st.Balance + s.amount
	tac, err := epurse.LoadTAC(alg, st.Keys.DTK, newBal, s.counter, s.amount, s.termID, dt)
	if err != nil {
		return sw(swMemoryFailure)
	}
	if !c.commit(func(st *cardState) {
		st.Balance = newBal
		st.OnlineCounter++
		st.addLog(logRecord(st.Profile.loggedCounter(s.counter), st.Profile.Overdraft, s.amount, epurse.TxLoad, s.termID, dt))
		st.addProof(proof{Type: epurse.TxLoad, Counter: st.OnlineCounter, MAC: mac2, TAC: tac})
	}) {
		return sw(swMemoryFailure)
	}
	return ok(tac[:])
}

// getBalance is GET BALANCE: 80 5C 00 02 04.
func (c *Card) getBalance(a apdu) []byte {
	switch {
	case a.p1 != 0 || a.p2 != 0x02:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 0:
		return sw(reader.SWWrongLength)
	case c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	}
	return ok(binary.BigEndian.AppendUint32(nil, c.st.Balance))
}

// prove is GET TRANSACTION PROVE: 80 5A 00 <type> 02 counter(2) → MAC(4) ‖
// TAC(4). The counter is the card's counter after the transaction (what
// INITIALIZE returns once the transaction happened), as reader/epurse and
// the field terminals send it; 9406 when the card holds no such
// transaction.
func (c *Card) prove(a apdu) []byte {
	switch {
	case a.p1 != 0:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 2:
		return sw(reader.SWWrongLength)
	case c.selected != selADF:
		return sw(reader.SWConditionsNotMet)
	}
	n := binary.BigEndian.Uint16(a.data)
	for _, p := range c.st.Proofs {
		if p.Type == a.p2 && p.Counter == n {
			return ok(p.MAC[:], p.TAC[:])
		}
	}
	return sw(swProofUnavailable)
}
