package sim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// Status words of the virtual cards that package reader does not name.
const (
	swProofUnavailable reader.SW = 0x9406 // GET TRANSACTION PROVE: no such transaction
	swMemoryFailure    reader.SW = 0x6581 // EEPROM write failed (state file not written)
	swCounterExhausted reader.SW = 0x9402 // transaction counter at its maximum
)

// Profile is what the issuer writes into a card at personalisation: the
// public application data of file 0x15, the key version and algorithm, and
// the initial PIN and limits.
type Profile struct {
	// Kind is what carries the application: KindCard (or "") a plastic
	// CPU card with a fixed UID, KindPhone a phone emulating the card
	// (HCE), which presents a random UID at every presentation.
	Kind              string           `json:"kind,omitempty"`
	CardNo            string           `json:"card_no"`             // application serial number = card number, up to 20 digits; its last 8 BCD bytes are the key diversification factor
	UID               []byte           `json:"uid,omitempty"`       // anti-collision UID reported by the reader (default: last 4 bytes of the factor)
	AID               []byte           `json:"aid,omitempty"`       // e-purse application AID (default DefaultAID)
	Issuer            [8]byte          `json:"issuer"`              // issuer identification
	Class             byte             `json:"class"`               // card class: 1 student, 2 staff, 3 temporary...
	Status            byte             `json:"status"`              // card status byte of file 0x15 (0 normal)
	StatusListVersion uint32           `json:"status_list_version"` // status (black) list version stamped on the card
	Start             string           `json:"start"`               // validity start, YYYYMMDD
	Expiry            string           `json:"expiry"`              // validity end, YYYYMMDD
	Algorithm         epurse.Algorithm `json:"algorithm"`           // AlgDES or AlgSM4
	KeyVersion        byte             `json:"key_version"`         // key version reported by INITIALIZE
	KeyIndex          byte             `json:"key_index"`           // DPK/DLK index accepted by INITIALIZE (0 means 1)
	PIN               string           `json:"pin"`                 // 2 to 12 digits
	Overdraft         uint32           `json:"overdraft"`           // overdraft limit reported by INITIALIZE FOR PURCHASE (not granted)
	MaxBalance        uint32           `json:"max_balance"`         // a load above it is refused (0 means 100000.00 yuan)
	// LogCounterAfter makes the card log, in each record of file 0x18, its
	// counter after the transaction instead of before it: card operating
	// systems differ, and recovery must read either.
	LogCounterAfter bool `json:"log_counter_after,omitempty"`
	// TxnLimit and DailyLimit are the holder's limits (fen) issued in the
	// campus data file 0x12 (epurse.CampusData; 0: the terminal's default,
	// none).
	TxnLimit   uint32 `json:"txn_limit,omitempty"`
	DailyLimit uint32 `json:"daily_limit,omitempty"`
}

// Card kinds (Profile.Kind).
const (
	KindCard  = "card"  // a plastic CPU card: UID fixed at manufacture
	KindPhone = "phone" // a phone (HCE): a random UID at every presentation
)

// DefaultAID is the AID of the virtual e-purse application when a Profile
// names none: epurse.AIDKingstar (the campus ADF). The application also
// answers SELECT by file id 1001 (epurse.FIDEPADF) and by
// epurse.AIDCityCard.
var DefaultAID = epurse.AIDKingstar

// Retry counters of a fresh card: the holder's PIN (3) and the system PIN
// (15, the most a 63Cx answer can count: it is presented by terminals, so a
// wrong one means a terminal with the wrong key, and a few taps at such a
// terminal must not block the card's loads; a terminal stops presenting it
// after one refusal).
const (
	maxPINTries       = 3
	maxSystemPINTries = 15
)

func (p Profile) validate() error {
	if len(p.CardNo) == 0 || len(p.CardNo) > 20 || !digits(p.CardNo) {
		return fmt.Errorf("sim: profile: card number %q: want 1 to 20 digits", p.CardNo)
	}
	for _, d := range []string{p.Start, p.Expiry} {
		if _, err := time.Parse("20060102", d); err != nil {
			return fmt.Errorf("sim: profile: date %q: want YYYYMMDD", d)
		}
	}
	if len(p.PIN) < 2 || len(p.PIN) > 12 || !digits(p.PIN) {
		return fmt.Errorf("sim: profile: PIN: want 2 to 12 digits")
	}
	if p.Algorithm != epurse.AlgDES && p.Algorithm != epurse.AlgSM4 {
		return fmt.Errorf("sim: profile: %w: %s", epurse.ErrUnsupportedAlgorithm, p.Algorithm)
	}
	if p.Overdraft > 0xFFFFFF {
		return fmt.Errorf("sim: profile: overdraft %d does not fit 3 bytes", p.Overdraft)
	}
	if p.UID != nil && len(p.UID) != 4 && len(p.UID) != 7 && len(p.UID) != 10 {
		return fmt.Errorf("sim: profile: UID of %d bytes", len(p.UID))
	}
	switch p.Kind {
	case "", KindCard:
	case KindPhone:
		if p.UID != nil {
			return fmt.Errorf("sim: profile: a phone has no fixed UID (it presents a random one every time)")
		}
	default:
		return fmt.Errorf("sim: profile: kind %q: want %q or %q", p.Kind, KindCard, KindPhone)
	}
	if p.AID != nil && (len(p.AID) < 5 || len(p.AID) > 16) {
		return fmt.Errorf("sim: profile: AID of %d bytes", len(p.AID))
	}
	return nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Card is a virtual CPU card holding a PBOC e-purse (JR/T 0025) with the
// crypto of reader/epurse: SELECT, READ BINARY 0x15 and 0x12, READ RECORD
// 0x18, GET BALANCE, VERIFY and CHANGE PIN, INITIALIZE / DEBIT FOR
// PURCHASE, INITIALIZE FOR LOAD / CREDIT FOR LOAD, GET TRANSACTION PROVE,
// and the card writes under secure messaging (sm.go): GET CHALLENGE,
// UPDATE BINARY of 0x15 and 0x12, APPLICATION BLOCK and UNBLOCK, PIN
// RELOAD.
//
// It is the card side of the vpcd bridge (ATR, Reset, Respond) and can be
// presented by a sim.Reader. Faults are armed with Arm. Its methods are safe
// for concurrent use.
type Card struct {
	mu   sync.Mutex
	st   *cardState
	path string // "" keeps the state in memory only

	// volatile (lost at Reset / tear)
	selected int // selNone, selMF, selADF
	sess     *session
	verified pinSet // PINs verified since the application was selected
	uid      []byte // a phone's random UID of this presentation
	// chal is the last GET CHALLENGE answer, the IV of the next command's
	// secure-messaging MAC; any command received uses it up (hasChal).
	chal    [4]byte
	hasChal bool

	faults faults
	random io.Reader
	sleep  func(time.Duration)
}

// Selection states.
const (
	selNone = iota
	selMF
	selADF
)

// NewCard issues a card: it diversifies the card keys from the issuer's
// master keys by p.Factor(), personalises the system PIN derived from
// master.SystemPIN (none when nil: then only the holder's PIN opens loads)
// and sets the balance. The card keeps its state
// in memory until Save attaches it to a file.
func NewCard(p Profile, master epurse.Keys, balance uint32) (*Card, error) {
	if p.KeyIndex == 0 {
		p.KeyIndex = 1
	}
	if p.MaxBalance == 0 {
		p.MaxBalance = 10_000_000
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if balance > p.MaxBalance {
		return nil, fmt.Errorf("sim: new card: balance %d above the maximum %d", balance, p.MaxBalance)
	}
	keys, err := master.ForCard(p.Algorithm, p.Factor())
	if err != nil {
		return nil, fmt.Errorf("sim: new card: %w", err)
	}
	st := &cardState{Version: stateVersion, Profile: p, Keys: keys, Balance: balance, PINTries: maxPINTries}
	st.issueFiles()
	if master.SystemPIN != nil {
		pin, err := epurse.DeriveSystemPIN(p.Algorithm, master.SystemPIN, p.Factor())
		if err != nil {
			return nil, fmt.Errorf("sim: new card: %w", err)
		}
		st.SystemPIN, _ = pinDigits(pin)
		st.SystemPINTries = maxSystemPINTries
	}
	return newCard(st), nil
}

func newCard(st *cardState) *Card {
	c := &Card{st: st, random: rand.Reader, sleep: time.Sleep}
	c.newUID()
	return c
}

// phone reports a phone profile (HCE).
func (c *Card) phone() bool { return c.st.Profile.Kind == KindPhone }

// newUID draws a phone's UID for a new presentation: a 4-byte random UID
// (NUID) starting 08, as ISO 14443-3 marks a random UID and HCE phones
// present. Nothing for a plastic card.
func (c *Card) newUID() {
	if !c.phone() {
		return
	}
	u := []byte{0x08, 0, 0, 0}
	if _, err := io.ReadFull(c.random, u[1:]); err != nil {
		_, _ = io.ReadFull(rand.Reader, u[1:])
	}
	c.uid = u
}

// SetRandom replaces the source of the card's challenges (crypto/rand by
// default), for reproducible tests.
func (c *Card) SetRandom(r io.Reader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.random = r
}

// SetSleep replaces the sleep Respond uses for Latency faults (time.Sleep
// by default). A sim.Reader does not use it: it sleeps with its own Sleep.
func (c *Card) SetSleep(sleep func(time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleep = sleep
}

// Arm adds a fault to the card's script.
func (c *Card) Arm(f Fault) error { return c.faults.arm(f) }

// ClearFaults disarms every fault.
func (c *Card) ClearFaults() { c.faults.clear() }

// Faults returns the faults still armed.
func (c *Card) Faults() []Fault { return c.faults.list() }

// ATR returns the card's answer to reset as a PC/SC reader reports a
// contactless ISO 14443-4 card.
func (c *Card) ATR() []byte { return contactlessATR([]byte("yktd-sim-cpu")) }

// UID returns the anti-collision UID of this presentation: a phone's
// random UID (a new one at every Reset), else Profile.UID, or the last 4
// bytes of the diversification factor.
func (c *Card) UID() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uidLocked()
}

func (c *Card) uidLocked() []byte {
	if c.phone() {
		return append([]byte(nil), c.uid...)
	}
	if c.st.Profile.UID != nil {
		return append([]byte(nil), c.st.Profile.UID...)
	}
	f := c.st.Profile.Factor()
	return f[4:]
}

// Reset power-cycles the card (a reader presents it): the selection, the
// verified PINs and any open purchase or load session are lost; the
// persistent state stays. A phone draws a new random UID, as HCE does at
// every presentation.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powerOff()
	c.newUID()
}

func (c *Card) powerOff() {
	c.selected = selNone
	c.sess = nil
	c.verified = 0
	c.hasChal = false
}

// Respond answers one command APDU. A nil error comes with a response APDU
// (status word included); ErrTorn means no response left the card (a tear
// fault fired). Latency faults sleep with the card's sleep (SetSleep).
func (c *Card) Respond(cmd []byte) ([]byte, error) {
	resp, delay, err := c.exchange(cmd)
	if delay > 0 {
		c.mu.Lock()
		sleep := c.sleep
		c.mu.Unlock()
		sleep(delay)
	}
	return resp, err
}

// exchange executes cmd under the fault script and returns the response
// and the latency to apply before it is delivered.
func (c *Card) exchange(cmd []byte) ([]byte, time.Duration, error) {
	ins := byte(0)
	if len(cmd) > 1 {
		ins = cmd[1]
	}
	a := collect(c.faults.fire(ins))
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.before {
		c.powerOff()
		return nil, 0, fmt.Errorf("%w before executing INS %02X", ErrTorn, ins)
	}
	resp := c.dispatch(cmd)
	if a.after {
		c.powerOff()
		return nil, 0, fmt.Errorf("%w after executing INS %02X", ErrTorn, ins)
	}
	return a.mangle(ins, resp), a.delay, nil
}

// apdu is a parsed command APDU.
type apdu struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int // -1 when absent; 256 for Le 00
}

func parseAPDU(b []byte) (apdu, bool) {
	if len(b) < 4 {
		return apdu{}, false
	}
	a := apdu{cla: b[0], ins: b[1], p1: b[2], p2: b[3], le: -1}
	rest := b[4:]
	switch {
	case len(rest) == 0:
	case len(rest) == 1:
		a.le = int(rest[0])
	default:
		lc := int(rest[0])
		if lc == 0 || len(rest) < 1+lc || len(rest) > 2+lc {
			return apdu{}, false
		}
		a.data = rest[1 : 1+lc]
		if len(rest) == 2+lc {
			a.le = int(rest[1+lc])
		}
	}
	if a.le == 0 {
		a.le = 256
	}
	return a, true
}

func sw(s reader.SW) []byte { return []byte{s.SW1(), s.SW2()} }

func ok(data ...[]byte) []byte {
	var out []byte
	for _, d := range data {
		out = append(out, d...)
	}
	return append(out, 0x90, 0x00)
}

// dispatch executes one command; c.mu is held. Every command but the
// reader's GET DATA uses up the challenge of a GET CHALLENGE before it.
func (c *Card) dispatch(raw []byte) []byte {
	ch, hasCh := c.chal, c.hasChal
	if len(raw) < 1 || raw[0] != 0xFF {
		c.hasChal = false
	}
	a, valid := parseAPDU(raw)
	if !valid {
		return sw(reader.SWWrongLength)
	}
	if r := c.blockedRefusal(a); r != nil {
		return r
	}
	iso := a.cla == 0x00
	prop := a.cla == 0x80
	switch {
	case a.ins == InsSelect && iso:
		return c.doSelect(a)
	case a.ins == InsReadBinary && iso:
		return c.readBinary(a)
	case a.ins == InsReadRecord && iso:
		return c.readRecord(a)
	case a.ins == InsVerify && iso:
		return c.verifyPIN(a)
	case a.ins == InsGetChallenge && iso:
		return c.getChallenge(a)
	case a.ins == InsUpdateBinary && (iso || a.cla == epurse.CLASecureISO):
		return c.updateBinary(a, ch, hasCh)
	case a.ins == InsAppBlock && a.cla == epurse.CLASecureProp:
		return c.appBlock(a, ch, hasCh)
	case a.ins == InsAppUnblock && a.cla == epurse.CLASecureProp:
		return c.appUnblock(a, ch, hasCh)
	case a.ins == InsChangePIN && prop && a.p1 == 0x00:
		return c.pinReload(a)
	case a.ins == InsChangePIN && prop:
		return c.changePIN(a)
	case a.ins == InsGetBalance && prop:
		return c.getBalance(a)
	case a.ins == InsInit && prop && a.p1 == 0x01:
		return c.initPurchase(a)
	case a.ins == InsInit && prop && a.p1 == 0x00:
		return c.initLoad(a)
	case a.ins == InsInit && prop:
		return sw(reader.SWWrongP1P2)
	case a.ins == InsDebitForPurchase && prop:
		return c.debit(a)
	case a.ins == InsCreditForLoad && prop:
		return c.credit(a)
	case a.ins == InsGetTransactionProve && prop:
		return c.prove(a)
	case a.cla == 0xFF && a.ins == InsGetData:
		return c.getData(a)
	case a.cla != 0x00 && a.cla != 0x80 && a.cla != epurse.CLASecureISO && a.cla != epurse.CLASecureProp:
		return sw(reader.SWClaNotSupported)
	default:
		return sw(reader.SWInsNotSupported)
	}
}

// getData is the reader's GET DATA (PC/SC part 3): FF CA 00 00 Le gives
// the UID. A PC/SC reader answers it without the card; behind vpcd the
// virtual card is the reader too, so it answers.
func (c *Card) getData(a apdu) []byte {
	if a.p1 != 0 || a.p2 != 0 {
		return sw(reader.SWWrongP1P2) // only the UID (P1 01, the ATS, is not implemented)
	}
	return sliceLe(c.uidLocked(), 0, a.le)
}

// commit applies a change to a copy of the persistent state, writes it to
// the state file when the card has one, and only then makes it the card's
// state. It returns false (the card answers 6581) when the write failed:
// the change did not happen, as on a card whose EEPROM write failed.
func (c *Card) commit(change func(st *cardState)) bool {
	next := c.st.clone()
	change(next)
	if c.path != "" {
		if err := saveState(c.path, next); err != nil {
			return false
		}
	}
	c.st = next
	return true
}

// Status is a snapshot of a card for tests and the control interface.
// Class, Expiry and CardStatus are read from file 0x15 as the card holds
// it, the limits and ListVersion from file 0x12.
type Status struct {
	Serial         string  `json:"serial"` // diversification factor, hex
	UID            string  `json:"uid"`
	CardNo         string  `json:"card_no"`
	Class          byte    `json:"class"`
	Expiry         string  `json:"expiry"`
	CardStatus     byte    `json:"card_status"`       // file 0x15's status byte
	TxnLimit       uint32  `json:"txn_limit"`         // file 0x12
	DailyLimit     uint32  `json:"daily_limit"`       // file 0x12
	ListVersion    uint64  `json:"list_version"`      // file 0x12: status-list version of the last 解挂
	Blocked        string  `json:"blocked,omitempty"` // "temporary" or "permanent" after APPLICATION BLOCK
	Kind           string  `json:"kind"`              // KindCard or KindPhone
	Balance        uint32  `json:"balance"`
	OfflineCounter uint16  `json:"offline_counter"`
	OnlineCounter  uint16  `json:"online_counter"`
	PINTries       int     `json:"pin_tries"`
	SystemPINTries int     `json:"system_pin_tries"` // 0 when blocked or when the card has no system PIN
	Records        int     `json:"records"`
	Faults         []Fault `json:"faults"`
	StateFile      string  `json:"state_file,omitempty"`
}

// Status returns a snapshot of the card's persistent state.
func (c *Card) Status() Status {
	uid := hex.EncodeToString(c.UID())
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	f := st.Profile.Factor()
	kind := KindCard
	if c.phone() {
		kind = KindPhone
	}
	p := c.profileLocked()
	campus, _ := epurse.ParseCampusData(st.Campus)
	return Status{Kind: kind,
		Serial: hex.EncodeToString(f[:]), UID: uid, CardNo: st.Profile.CardNo,
		Class: p.Class, Expiry: p.Expiry, CardStatus: p.Status, Balance: st.Balance,
		TxnLimit: campus.TxnLimit, DailyLimit: campus.DailyLimit, ListVersion: campus.StatusListVersion,
		Blocked:        blockNames[st.Blocked],
		OfflineCounter: st.OfflineCounter, OnlineCounter: st.OnlineCounter, PINTries: st.PINTries, SystemPINTries: st.SystemPINTries,
		Records: len(st.Log), Faults: c.faults.list(), StateFile: c.path,
	}
}

var blockNames = map[byte]string{blockTemporary: "temporary", blockPermanent: "permanent"}

// Profile returns the card's personalisation as it stands: the issuer's
// Profile with the fields of file 0x15 that card writes change (status,
// status-list version, validity, class) read from the file as the card
// holds it.
func (c *Card) Profile() Profile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.profileLocked()
}

func (c *Card) profileLocked() Profile {
	p := c.st.Profile
	pub, err := epurse.ParsePublicData(c.st.Public)
	if err != nil {
		return p // a write left the file unreadable to terminals: the issued values
	}
	p.Status, p.StatusListVersion, p.Class = pub.Status, pub.StatusListVersion, pub.CardClass
	p.Start, p.Expiry = hex.EncodeToString(pub.Start[:]), hex.EncodeToString(pub.End[:])
	return p
}

// contactlessATR builds the ATR a PC/SC reader synthesises for an ISO
// 14443-4 card (PC/SC part 3): 3B 8n 80 01 historical bytes TCK.
func contactlessATR(hist []byte) []byte {
	atr := []byte{0x3B, 0x80 | byte(len(hist)), 0x80, 0x01}
	atr = append(atr, hist...)
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}
