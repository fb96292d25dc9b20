package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
)

// PSAMCard is a virtual PSAM: it answers the PSAM commands that
// sam.CardSAM sends — SELECT the MF (3F00) and the application DF
// (sam.DefaultApp, DF03), READ BINARY of file 0x16 (the terminal id), INIT
// SAM FOR PURCHASE (80 70 00 00 1C) and CREDIT SAM FOR PURCHASE
// (80 72 00 00 04, 9302 on a wrong MAC2), and DIVERSIFY KEY (80 1A, key
// usage 3A: the system-PIN master key) with ENCRYPT (80 FA 00 00), which
// derive a card's system PIN (see reader/sam's KeyUsageSystemPIN) — with
// the master keys of a sam.KeyFile. Like a real PSAM it has one temporary
// key register: DIVERSIFY KEY ends an open purchase session, and a reset
// or SELECT forgets the temporary key. Its terminal sequence lives in
// memory. It has the same Respond/ATR/Reset contract and fault script as
// Card.
type PSAMCard struct {
	mu       sync.Mutex
	termID   [6]byte
	keys     map[byte]epurse.Keys
	app      []byte
	seq      uint32
	selected int // selNone, selMF, selADF
	sess     *psamSession
	tmp      *psamKey // DIVERSIFY KEY's temporary key

	faults faults
	sleep  func(time.Duration)
}

type psamSession struct {
	alg    epurse.Algorithm
	key    []byte
	amount uint32
}

// NewPSAMCard returns a virtual PSAM holding kf's terminal id and master
// keys, answering SELECT of sam.DefaultApp as its application.
func NewPSAMCard(kf sam.KeyFile) *PSAMCard {
	return &PSAMCard{termID: kf.TerminalID, keys: kf.Keys, app: sam.DefaultApp, sleep: time.Sleep}
}

// ATR returns the PSAM's answer to reset (T=0, historical bytes only).
func (p *PSAMCard) ATR() []byte {
	hist := []byte("yktd-psam")
	return append([]byte{0x3B, byte(len(hist))}, hist...)
}

// Reset power-cycles the PSAM: selection and purchase session are lost.
func (p *PSAMCard) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.powerOff()
}

// powerOff forgets the volatile state: selection, session, temporary key.
func (p *PSAMCard) powerOff() {
	p.selected, p.sess, p.tmp = selNone, nil, nil
}

// Sequence returns the last terminal transaction sequence handed out.
func (p *PSAMCard) Sequence() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seq
}

// Arm adds a fault to the PSAM's script.
func (p *PSAMCard) Arm(f Fault) error { return p.faults.arm(f) }

// ClearFaults disarms every fault.
func (p *PSAMCard) ClearFaults() { p.faults.clear() }

// Faults returns the faults still armed.
func (p *PSAMCard) Faults() []Fault { return p.faults.list() }

// Respond answers one command APDU (see Card.Respond).
func (p *PSAMCard) Respond(cmd []byte) ([]byte, error) {
	resp, delay, err := p.exchange(cmd)
	if delay > 0 {
		p.sleep(delay)
	}
	return resp, err
}

func (p *PSAMCard) exchange(cmd []byte) ([]byte, time.Duration, error) {
	ins := byte(0)
	if len(cmd) > 1 {
		ins = cmd[1]
	}
	a := collect(p.faults.fire(ins))
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.before {
		p.powerOff()
		return nil, 0, fmt.Errorf("%w before executing INS %02X", ErrTorn, ins)
	}
	resp := p.dispatch(cmd)
	if a.after {
		p.powerOff()
		return nil, 0, fmt.Errorf("%w after executing INS %02X", ErrTorn, ins)
	}
	return a.mangle(ins, resp), a.delay, nil
}

func (p *PSAMCard) dispatch(raw []byte) []byte {
	a, valid := parseAPDU(raw)
	if !valid {
		return sw(reader.SWWrongLength)
	}
	switch {
	case a.cla == 0x00 && a.ins == InsSelect:
		if a.p1 != 0x00 && a.p1 != 0x04 {
			return sw(reader.SWWrongP1P2)
		}
		switch {
		case bytes.Equal(a.data, []byte{0x3F, 0x00}):
			p.selected, p.sess, p.tmp = selMF, nil, nil
		case bytes.Equal(a.data, p.app):
			p.selected, p.sess, p.tmp = selADF, nil, nil
		default:
			return sw(reader.SWFileNotFound)
		}
		return ok(fci(a.data))
	case a.cla == 0x00 && a.ins == InsReadBinary:
		if a.p1 != 0x80|sam.SFITerminalID || len(a.data) != 0 {
			return sw(reader.SWFileNotFound)
		}
		if p.selected == selNone {
			return sw(reader.SWConditionsNotMet)
		}
		return sliceLe(p.termID[:], int(a.p2), a.le)
	case a.cla == 0x80 && a.ins == InsInitSAMForPurchase:
		return p.initPurchase(a)
	case a.cla == 0x80 && a.ins == InsCreditSAMForPurchase:
		return p.creditPurchase(a)
	case a.cla == 0x80 && a.ins == InsDiversifyKey:
		return p.diversify(a)
	case a.cla == 0x80 && a.ins == InsEncrypt:
		return p.encrypt(a)
	case a.cla != 0x00 && a.cla != 0x80:
		return sw(reader.SWClaNotSupported)
	}
	return sw(reader.SWInsNotSupported)
}

func (p *PSAMCard) initPurchase(a apdu) []byte {
	p.sess = nil
	if a.p1 != 0 || a.p2 != 0 {
		return sw(reader.SWWrongP1P2)
	}
	if p.selected != selADF {
		return sw(reader.SWConditionsNotMet)
	}
	req, err := epurse.ParseSAMPurchaseRequest(a.data)
	if err != nil {
		return sw(reader.SWWrongLength)
	}
	if req.Type != epurse.TxPurchase {
		return sw(reader.SWWrongData)
	}
	mk, found := p.keys[req.KeyVersion]
	if !found {
		return sw(reader.SWRefDataNotFound)
	}
	if p.seq == math.MaxUint32 {
		return sw(reader.SWConditionsNotMet)
	}
	dpk, err := epurse.DiversifyKey(req.Algorithm, mk.Purchase, req.CardSerial)
	if err != nil {
		return sw(reader.SWWrongData)
	}
	seq := p.seq + 1
	sk, err := epurse.PurchaseSessionKey(req.Algorithm, dpk, req.Random, req.OfflineCounter, seq)
	if err != nil {
		return sw(reader.SWWrongData)
	}
	mac1, err := epurse.PurchaseMAC1(req.Algorithm, sk, req.Amount, p.termID, req.Time)
	if err != nil {
		return sw(reader.SWWrongData)
	}
	p.seq = seq
	p.sess = &psamSession{alg: req.Algorithm, key: sk, amount: req.Amount}
	return ok(binary.BigEndian.AppendUint32(nil, seq), mac1[:])
}

func (p *PSAMCard) creditPurchase(a apdu) []byte {
	s := p.sess
	p.sess = nil
	switch {
	case a.p1 != 0 || a.p2 != 0:
		return sw(reader.SWWrongP1P2)
	case len(a.data) != 4:
		return sw(reader.SWWrongLength)
	case s == nil:
		return sw(reader.SWConditionsNotMet)
	}
	want, err := epurse.PurchaseMAC2(s.alg, s.key, s.amount)
	if err != nil || !epurse.VerifyMAC([4]byte(a.data), want) {
		return sw(reader.SWMAC1Wrong)
	}
	return ok()
}
