package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Load intents (圈存, DESIGN.md 3.3). A kiosk claims money waiting at the
// ledger: INITIALIZE FOR LOAD, the ledger checks MAC1 and answers MAC2 (the
// money is then authorised for this one card session), and before CREDIT
// FOR LOAD is sent the kiosk makes a load intent durable (OpenLoad, one
// fsync'd commit). The intent holds what epurse.RecoverLoad needs to tell
// from the card whether the credit happened, and what the ledger needs to
// check the load's TAC.
//
// Its life, kept in the bucket "pending" (created empty by migration 3 for
// the pending loads, never written before: no migration is needed):
//
//	asking ──AuthorizeLoad──► open      (BeginLoad: before the ledger is asked)
//	open ──CompleteLoad(TAC)──► credited ──SettleLoad──► (gone)
//	  │  ──CompleteLoad(by log)─────────────────────────► (gone)
//	  ├─MarkLoadUncertain─► uncertain ─(RecoverLoad)─► credited, gone, or voided
//	  └─VoidLoad──────────► voided ──(the card's next OpenLoad)──► (gone)
//
// CompleteLoad journals the one load record (protocol.KindLoad) of the
// load, in the same commit as the state change, so a load is journaled
// exactly once: a load already credited cannot be completed again. A
// credited load waits for the ledger's confirmation of its TAC
// (LoadConfirm); SettleLoad removes it then. A voided load (the card shows
// no credit) journals nothing — there is no record kind for it and the
// ledger needs none: the load stays authorised at the ledger for the card's
// online counter, and the card's next INITIALIZE FOR LOAD at that counter,
// at any kiosk, settles it there (the same amount re-authorises the same
// load; another amount puts it back in wait). The voided intent is kept
// until that happens here (the card's next OpenLoad drops it), so that the
// technician sees money held for the card.

// LoadIntent is what the kiosk knows before CREDIT FOR LOAD.
type LoadIntent struct {
	CardNo        string
	Amount        int64  // fen
	BalanceBefore int64  // fen, from INITIALIZE FOR LOAD
	CardCounter   uint32 // the card's online counter N before the load
	TerminalID    []byte // 6 bytes, sent in INITIALIZE FOR LOAD
	TxTime        []byte // the 7-byte BCD date ‖ time CREDIT FOR LOAD carries
	CardSerial    []byte // the card's 8-byte key diversification factor
	KeyIndex      uint8  // DLK index sent in INITIALIZE FOR LOAD
	KeyVersion    uint8  // key version INITIALIZE FOR LOAD returned
	Algorithm     uint8  // algorithm byte INITIALIZE FOR LOAD returned
	LoadID        string // the ledger's name of the authorised load (LoadConfirm)
	MAC2          []byte // the ledger's MAC2, 4 bytes
}

func (p *LoadIntent) validate() error {
	if err := p.validateCard(); err != nil {
		return err
	}
	return validAuthorisation(p.LoadID, p.MAC2)
}

func validAuthorisation(loadID string, mac2 []byte) error {
	switch {
	case len(mac2) != protocol.CryptogramSize:
		return fmt.Errorf("mac2 is %d bytes, want %d: %w", len(mac2), protocol.CryptogramSize, ErrInvalid)
	case loadID == "" || len(loadID) > maxLoadIDLen:
		return fmt.Errorf("the ledger's load id (1 to %d bytes) needed: %w", maxLoadIDLen, ErrInvalid)
	}
	return nil
}

// validateCard checks what the card and the kiosk know before the ledger
// is asked.
func (p *LoadIntent) validateCard() error {
	switch {
	case !validCardNo(p.CardNo) || p.Amount <= 0 || p.Amount > 0xFFFFFFFF:
		return fmt.Errorf("card number and an amount of 1 to 2^32-1 fen needed: %w", ErrInvalid)
	case p.BalanceBefore < 0 || p.BalanceBefore > 0xFFFFFFFF || p.CardCounter > 0xFFFF:
		return fmt.Errorf("balance %d or online counter %d out of the card's range: %w", p.BalanceBefore, p.CardCounter, ErrInvalid)
	case len(p.TerminalID) != protocol.TerminalIDSize:
		return fmt.Errorf("terminal id is %d bytes, want %d: %w", len(p.TerminalID), protocol.TerminalIDSize, ErrInvalid)
	case len(p.TxTime) != protocol.TxTimeSize:
		return fmt.Errorf("tx time is %d bytes, want %d: %w", len(p.TxTime), protocol.TxTimeSize, ErrInvalid)
	case len(p.CardSerial) != protocol.CardSerialSize:
		return fmt.Errorf("card serial is %d bytes, want %d: %w", len(p.CardSerial), protocol.CardSerialSize, ErrInvalid)
	}
	return nil
}

// maxLoadIDLen bounds LoadIntent.LoadID (protocol.MaxKeyIDLen bounds the
// ledger's).
const maxLoadIDLen = 64

// LoadState is where a load intent stands.
type LoadState uint8

// Load intent states.
const (
	LoadOpen      LoadState = 1 // CREDIT FOR LOAD is about to be sent or was not answered yet
	LoadUncertain LoadState = 2 // torn after CREDIT was sent: resolve when the card returns
	LoadCredited  LoadState = 3 // the card was credited and the load journaled: waits for the ledger's confirmation
	LoadVoided    LoadState = 4 // the card was not credited: the ledger still holds the money for the card's online counter
	LoadAsking    LoadState = 5 // the ledger is being asked for MAC2: CREDIT was not sent; the ledger may hold the money for the card's counter
	loadStateMax            = LoadAsking
)

// String names the state.
func (s LoadState) String() string {
	switch s {
	case LoadOpen:
		return "open"
	case LoadUncertain:
		return "uncertain"
	case LoadCredited:
		return "credited"
	case LoadVoided:
		return "voided"
	case LoadAsking:
		return "asking"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Load is a load intent as the store holds it.
type Load struct {
	ID     uint64 // the store's number for it, from 1
	State  LoadState
	Opened time.Time // when OpenLoad committed it
	// Reason is why it is uncertain or voided (a stable code).
	Reason string
	LoadIntent
	// When credited: the balance after, the card's TAC and the sequence
	// of the load record journaled.
	BalanceAfter int64
	TAC          []byte
	Seq          uint64
}

// LoadCompletion is the card's answer to CREDIT FOR LOAD, or what
// recovery found on the card.
type LoadCompletion struct {
	BalanceAfter int64  // fen
	TAC          []byte // 4 bytes, unless ByLog
	// ByLog: the card's transaction log proves the credit, its proof is
	// gone (the card was used since): no TAC, the record's reason is
	// ReasonCardLog, and nothing is left to confirm with the ledger.
	ByLog bool
	// ByLedger: the card never came back here, and the ledger says this
	// session credited it (a later online counter the card showed
	// elsewhere; protocol.LoadStatusRequest): no TAC, the record's
	// reason is ReasonLedger, nothing is left to confirm.
	ByLedger bool
}

// ReasonLedger is the reason of a load record whose credit the ledger
// confirmed from the card's later online counter (LoadCompletion.ByLedger).
const ReasonLedger = "ledger-inferred"

// loadValue is a Load as stored: canonical CBOR (keys as integers).
type loadValue struct {
	State         LoadState `cbor:"1,keyasint"`
	Opened        int64     `cbor:"2,keyasint"` // Unix ms
	Reason        string    `cbor:"3,keyasint,omitempty"`
	CardNo        string    `cbor:"4,keyasint"`
	Amount        int64     `cbor:"5,keyasint"`
	BalanceBefore int64     `cbor:"6,keyasint"`
	CardCounter   uint32    `cbor:"7,keyasint"`
	TerminalID    []byte    `cbor:"8,keyasint"`
	TxTime        []byte    `cbor:"9,keyasint"`
	CardSerial    []byte    `cbor:"10,keyasint"`
	KeyIndex      uint8     `cbor:"11,keyasint"`
	KeyVersion    uint8     `cbor:"12,keyasint"`
	Algorithm     uint8     `cbor:"13,keyasint"`
	LoadID        string    `cbor:"14,keyasint"`
	MAC2          []byte    `cbor:"15,keyasint"`
	BalanceAfter  int64     `cbor:"16,keyasint,omitempty"`
	TAC           []byte    `cbor:"17,keyasint,omitempty"`
	Seq           uint64    `cbor:"18,keyasint,omitempty"`
}

// maxLoadValue bounds a stored load intent.
const maxLoadValue = 512

var (
	loadEnc = func() cbor.EncMode {
		em, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return em
	}()
	loadDec = protocol.MustStrictDecMode(protocol.DecLimits{Nesting: 4, ArrayElements: 16, MapPairs: 24})
)

func (l *Load) value() loadValue {
	return loadValue{
		State: l.State, Opened: l.Opened.UnixMilli(), Reason: l.Reason,
		CardNo: l.CardNo, Amount: l.Amount, BalanceBefore: l.BalanceBefore, CardCounter: l.CardCounter,
		TerminalID: l.TerminalID, TxTime: l.TxTime, CardSerial: l.CardSerial,
		KeyIndex: l.KeyIndex, KeyVersion: l.KeyVersion, Algorithm: l.Algorithm,
		LoadID: l.LoadID, MAC2: l.MAC2, BalanceAfter: l.BalanceAfter, TAC: l.TAC, Seq: l.Seq,
	}
}

func putLoad(tx *bolt.Tx, l *Load) error {
	raw, err := loadEnc.Marshal(l.value())
	if err != nil {
		return fmt.Errorf("offline: store load %d: %w", l.ID, err)
	}
	if err := tx.Bucket(bucketPending).Put(be64(l.ID), raw); err != nil {
		return fmt.Errorf("offline: store load %d: %w", l.ID, err)
	}
	return nil
}

// decodeLoad decodes a stored load intent from hostile bytes: anything but
// the canonical encoding of a valid intent is ErrCorrupt.
func decodeLoad(k, v []byte) (Load, error) {
	bad := func(why string, err error) (Load, error) {
		if err != nil {
			return Load{}, fmt.Errorf("offline: load %x: %s: %w: %w", k, why, ErrCorrupt, err)
		}
		return Load{}, fmt.Errorf("offline: load %x: %s: %w", k, why, ErrCorrupt)
	}
	if len(k) != 8 || binary.BigEndian.Uint64(k) == 0 {
		return bad("bad key", nil)
	}
	if len(v) > maxLoadValue {
		return bad(fmt.Sprintf("%d bytes", len(v)), nil)
	}
	var lv loadValue
	if err := loadDec.Unmarshal(v, &lv); err != nil {
		return bad("does not decode", err)
	}
	if again, err := loadEnc.Marshal(lv); err != nil || !bytes.Equal(again, v) {
		return bad("not canonical", nil)
	}
	l := Load{
		ID: binary.BigEndian.Uint64(k), State: lv.State, Opened: time.UnixMilli(lv.Opened).UTC(), Reason: lv.Reason,
		LoadIntent: LoadIntent{
			CardNo: lv.CardNo, Amount: lv.Amount, BalanceBefore: lv.BalanceBefore, CardCounter: lv.CardCounter,
			TerminalID: lv.TerminalID, TxTime: lv.TxTime, CardSerial: lv.CardSerial,
			KeyIndex: lv.KeyIndex, KeyVersion: lv.KeyVersion, Algorithm: lv.Algorithm, LoadID: lv.LoadID, MAC2: lv.MAC2,
		},
		BalanceAfter: lv.BalanceAfter, TAC: lv.TAC, Seq: lv.Seq,
	}
	verr := l.validateCard()
	if verr == nil && (l.State != LoadAsking || l.LoadID != "" || l.MAC2 != nil) {
		verr = validAuthorisation(l.LoadID, l.MAC2)
	}
	if verr != nil {
		return bad("invalid", verr)
	}
	credited := l.State == LoadCredited
	switch {
	case l.State == 0 || l.State > loadStateMax:
		return bad(fmt.Sprintf("state %d", l.State), nil)
	case len(l.Reason) > 64:
		return bad("reason too long", nil)
	case l.State == LoadAsking && (l.LoadID != "" || l.MAC2 != nil):
		return bad("asking with the ledger's answer", nil)
	case credited && (len(l.TAC) != protocol.CryptogramSize || l.Seq == 0 || l.BalanceAfter <= 0):
		return bad("credited without TAC, balance or record", nil)
	case !credited && (l.TAC != nil || l.Seq != 0 || l.BalanceAfter != 0):
		return bad("a completion on a load not credited", nil)
	}
	return l, nil
}

func getLoad(tx *bolt.Tx, id uint64) (Load, error) {
	v := tx.Bucket(bucketPending).Get(be64(id))
	if v == nil {
		return Load{}, fmt.Errorf("offline: load %d: %w", id, ErrNotFound)
	}
	return decodeLoad(be64(id), v)
}

func loadsTx(tx *bolt.Tx) ([]Load, error) {
	var out []Load
	err := tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
		l, err := decodeLoad(k, v)
		if err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// OpenLoad makes a load intent durable, as open, in one fsync'd commit:
// call it after the ledger answered MAC2 and before CREDIT FOR LOAD is
// sent. Every field is required (ErrInvalid). It refuses a second load of a
// card whose earlier load is still open or uncertain (ErrIntentState:
// resolve that one from the card first), and drops the card's voided and
// asking loads (this load's authorisation at the ledger settled them: see
// the package comment above). It returns ErrStorageFull when new work no
// longer fits (the load's record must).
func (s *Store) OpenLoad(p LoadIntent) (Load, error) {
	if err := p.validate(); err != nil {
		return Load{}, fmt.Errorf("offline: open load: %w", err)
	}
	return s.newLoad("open load", p, LoadOpen)
}

// BeginLoad is OpenLoad before the ledger is asked: the intent, without
// the ledger's load id and MAC2 (both must be empty), is made durable as
// asking in one fsync'd commit, so that a power cut after the ledger
// authorised the money and before AuthorizeLoad committed its answer does
// not leave the money at the ledger unknown to the kiosk: the card's next
// claim asks for the same amount again (the ledger answers the same load
// at the same online counter). AuthorizeLoad then adds the answer.
func (s *Store) BeginLoad(p LoadIntent) (Load, error) {
	if err := p.validateCard(); err != nil {
		return Load{}, fmt.Errorf("offline: begin load: %w", err)
	}
	if p.LoadID != "" || p.MAC2 != nil {
		return Load{}, fmt.Errorf("offline: begin load: the ledger's answer comes with AuthorizeLoad: %w", ErrInvalid)
	}
	return s.newLoad("begin load", p, LoadAsking)
}

// AuthorizeLoad records the ledger's answer (its load id and MAC2) for an
// asking load and makes it open, in one fsync'd commit, before CREDIT FOR
// LOAD is sent.
func (s *Store) AuthorizeLoad(id uint64, loadID string, mac2 []byte) (Load, error) {
	if err := validAuthorisation(loadID, mac2); err != nil {
		return Load{}, fmt.Errorf("offline: authorize load %d: %w", id, err)
	}
	var l Load
	err := s.update("authorize load", func(tx *bolt.Tx) error {
		var err error
		if l, err = getLoad(tx, id); err != nil {
			return err
		}
		if l.State != LoadAsking {
			return fmt.Errorf("offline: authorize load %d: it is %v: %w", id, l.State, ErrIntentState)
		}
		l.State, l.LoadID, l.MAC2 = LoadOpen, loadID, bytes.Clone(mac2)
		return putLoad(tx, &l)
	})
	if err != nil {
		return Load{}, err
	}
	return l, nil
}

// DropLoad removes an asking or voided load intent once the ledger
// answered that it holds nothing for it (it refused the authorisation).
// Other states are ErrIntentState.
func (s *Store) DropLoad(id uint64) error {
	return s.update("drop load", func(tx *bolt.Tx) error {
		l, err := getLoad(tx, id)
		if err != nil {
			return err
		}
		if l.State != LoadAsking && l.State != LoadVoided {
			return fmt.Errorf("offline: drop load %d: it is %v: %w", id, l.State, ErrIntentState)
		}
		return tx.Bucket(bucketPending).Delete(be64(id))
	})
}

func (s *Store) newLoad(op string, p LoadIntent, st LoadState) (Load, error) {
	var l Load
	err := s.update(op, func(tx *bolt.Tx) error {
		h, err := s.readHead(tx)
		if err != nil {
			return err
		}
		if err := s.checkRoom(tx, h.seq, classNew); err != nil {
			return err
		}
		all, err := loadsTx(tx)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.CardNo != p.CardNo {
				continue
			}
			switch o.State {
			case LoadOpen, LoadUncertain:
				return fmt.Errorf("offline: %s: card %s has load %d %v: %w", op, p.CardNo, o.ID, o.State, ErrIntentState)
			case LoadVoided, LoadAsking:
				if err := tx.Bucket(bucketPending).Delete(be64(o.ID)); err != nil {
					return fmt.Errorf("offline: %s: drop %v load %d: %w", op, o.State, o.ID, err)
				}
			}
		}
		id, err := tx.Bucket(bucketPending).NextSequence()
		if err != nil {
			return fmt.Errorf("offline: %s: %w", op, err)
		}
		l = Load{ID: id, State: st, Opened: time.UnixMilli(s.opts.Clock.Now().UnixMilli()).UTC(), LoadIntent: p}
		return putLoad(tx, &l)
	})
	if err != nil {
		return Load{}, err
	}
	return l, nil
}

// CompleteLoad journals the load record of an open or uncertain load
// intent (the card was credited: its TAC, or its log, proves it), through
// the group commit: the intent is durable and the outcome recoverable
// from the card if this commit is lost. With a TAC the intent stays as
// credited, waiting for the ledger's confirmation (SettleLoad); proven by
// the log it is removed. It returns the load record's sequence; a load
// completed already is ErrIntentState (a load is journaled once).
func (s *Store) CompleteLoad(id uint64, c LoadCompletion) (uint64, error) {
	var seq uint64
	err := s.batch("complete load", func(tx *bolt.Tx) error {
		l, err := getLoad(tx, id)
		if err != nil {
			return err
		}
		switch {
		case l.State != LoadOpen && l.State != LoadUncertain:
			return fmt.Errorf("offline: complete load %d: it is %v: %w", id, l.State, ErrIntentState)
		case c.BalanceAfter != l.BalanceBefore+l.Amount:
			return fmt.Errorf("offline: complete load %d: balance after %d is not %d + %d: %w", id, c.BalanceAfter, l.BalanceBefore, l.Amount, ErrInvalid)
		case c.ByLog && c.ByLedger:
			return fmt.Errorf("offline: complete load %d: by the card's log or by the ledger, not both: %w", id, ErrInvalid)
		case (c.ByLog || c.ByLedger) && len(c.TAC) != 0:
			return fmt.Errorf("offline: complete load %d: a completion by the card's log or the ledger has no TAC: %w", id, ErrInvalid)
		case !c.ByLog && !c.ByLedger && len(c.TAC) != protocol.CryptogramSize:
			return fmt.Errorf("offline: complete load %d: 4-byte TAC needed: %w", id, ErrInvalid)
		}
		r := l.record()
		r.BalanceAfter = c.BalanceAfter
		switch {
		case c.ByLog:
			r.Reason = ReasonCardLog
		case c.ByLedger:
			r.Reason = ReasonLedger
		default:
			r.TAC = c.TAC
		}
		e, err := s.appendTx(tx, r, classEvidence)
		if err != nil {
			return err
		}
		seq = e.Record.Seq
		if c.ByLog || c.ByLedger {
			return tx.Bucket(bucketPending).Delete(be64(id))
		}
		l.State, l.Reason, l.BalanceAfter, l.TAC, l.Seq = LoadCredited, "", c.BalanceAfter, bytes.Clone(c.TAC), seq
		return putLoad(tx, &l)
	})
	return seq, err
}

// record is the load record of l: every field the ledger needs to check
// the load TAC (protocol/record.go; ledger CheckLoadTAC): TAC over
// be32(BalanceAfter) ‖ be16(CardCounter) ‖ be32(Amount) ‖ 02 ‖ TerminalID
// ‖ TxTime under the card's DTK (diversified by CardSerial).
func (l *Load) record() protocol.Record {
	return protocol.Record{
		Kind: protocol.KindLoad, CardNo: l.CardNo, Amount: l.Amount,
		BalanceBefore: l.BalanceBefore, CardCounter: l.CardCounter,
		TerminalID: l.TerminalID, TxTime: l.TxTime, CardSerial: l.CardSerial,
		KeyIndex: l.KeyIndex, KeyVersion: l.KeyVersion, Algorithm: l.Algorithm, MAC2: l.MAC2,
	}
}

// SettleLoad removes a credited load intent once the ledger confirmed its
// TAC, through the group commit (losing it only means confirming again).
// Any other state is ErrIntentState.
func (s *Store) SettleLoad(id uint64) error {
	return s.batch("settle load", func(tx *bolt.Tx) error {
		l, err := getLoad(tx, id)
		if err != nil {
			return err
		}
		if l.State != LoadCredited {
			return fmt.Errorf("offline: settle load %d: it is %v: %w", id, l.State, ErrIntentState)
		}
		return tx.Bucket(bucketPending).Delete(be64(id))
	})
}

// MarkLoadUncertain keeps an open load intent as uncertain (the card left
// or failed after CREDIT FOR LOAD was sent, or the terminal restarted)
// until its card returns.
func (s *Store) MarkLoadUncertain(id uint64, reason string) error {
	return s.setLoadState("mark load uncertain", id, reason, LoadUncertain, LoadOpen)
}

// VoidLoad records that the card was not credited (its online counter and
// balance unchanged, or the card refused CREDIT FOR LOAD): the intent stays
// as voided until the card's next load (see the package comment above).
func (s *Store) VoidLoad(id uint64, reason string) error {
	return s.setLoadState("void load", id, reason, LoadVoided, LoadOpen, LoadUncertain)
}

func (s *Store) setLoadState(op string, id uint64, reason string, to LoadState, from ...LoadState) error {
	if len(reason) > 64 {
		return fmt.Errorf("offline: %s %d: reason too long: %w", op, id, ErrInvalid)
	}
	return s.update(op, func(tx *bolt.Tx) error {
		l, err := getLoad(tx, id)
		if err != nil {
			return err
		}
		ok := false
		for _, f := range from {
			ok = ok || l.State == f
		}
		if !ok {
			return fmt.Errorf("offline: %s %d: it is %v: %w", op, id, l.State, ErrIntentState)
		}
		l.State, l.Reason = to, reason
		return putLoad(tx, &l)
	})
}

// Loads lists the load intents in the order they were opened: after a
// restart, those to resolve (open, uncertain: with their card; credited:
// with the ledger) and those the ledger still holds money for (voided).
func (s *Store) Loads() ([]Load, error) {
	var out []Load
	err := s.view("loads", func(tx *bolt.Tx) error {
		var err error
		out, err = loadsTx(tx)
		return err
	})
	return out, err
}
