package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// PurchaseIntent is what the terminal knows before DEBIT FOR PURCHASE
// (DESIGN.md 3.1 step 4): everything reader/epurse.Recover needs to resolve
// the outcome from the card after a restart (its Pending), and everything
// the ledger needs, with the TAC of the completion, to verify the purchase.
type PurchaseIntent struct {
	CardNo        string
	Amount        int64  // fen
	BalanceBefore int64  // fen, from INITIALIZE FOR PURCHASE
	CardCounter   uint32 // offline counter N from INITIALIZE FOR PURCHASE
	TerminalID    []byte // PSAM terminal id, 6 bytes
	TerminalSeq   uint32 // PSAM terminal sequence from INIT SAM FOR PURCHASE
	TxTime        []byte // the 7-byte BCD date ‖ time sent in DEBIT, exactly
	CardSerial    []byte // the card's 8-byte key diversification factor
	KeyIndex      uint8  // DPK index sent in INITIALIZE FOR PURCHASE
	KeyVersion    uint8  // key version INITIALIZE FOR PURCHASE returned
	Algorithm     uint8  // algorithm byte INITIALIZE FOR PURCHASE returned
	MAC1          []byte // the SAM's MAC1 sent in DEBIT, 4 bytes
}

// validate refuses an intent that could not be recovered from the card: a
// purchase whose outcome cannot be resolved must not be started.
func (p *PurchaseIntent) validate() error {
	switch {
	case p.CardNo == "" || p.Amount <= 0:
		return fmt.Errorf("card number and a positive amount needed: %w", ErrInvalid)
	case len(p.TerminalID) != protocol.TerminalIDSize:
		return fmt.Errorf("terminal id is %d bytes, want %d: %w", len(p.TerminalID), protocol.TerminalIDSize, ErrInvalid)
	case len(p.TxTime) != protocol.TxTimeSize:
		return fmt.Errorf("tx time is %d bytes, want %d: %w", len(p.TxTime), protocol.TxTimeSize, ErrInvalid)
	case len(p.CardSerial) != protocol.CardSerialSize:
		return fmt.Errorf("card serial is %d bytes, want %d: %w", len(p.CardSerial), protocol.CardSerialSize, ErrInvalid)
	case len(p.MAC1) != protocol.CryptogramSize:
		return fmt.Errorf("mac1 is %d bytes, want %d: %w", len(p.MAC1), protocol.CryptogramSize, ErrInvalid)
	}
	return nil
}

// Recoverable reports whether the intent holds what recovery from the card
// needs. Intents opened by this version always do; one written before the
// recovery fields existed (an unreleased schema) does not and must be
// resolved by hand (or voided once the card shows an unchanged counter).
func (p *PurchaseIntent) Recoverable() bool {
	return len(p.TxTime) == protocol.TxTimeSize && len(p.CardSerial) == protocol.CardSerialSize &&
		len(p.MAC1) == protocol.CryptogramSize && len(p.TerminalID) == protocol.TerminalIDSize
}

// record returns the purchase fields as a record of kind k.
func (p *PurchaseIntent) record(k protocol.Kind) protocol.Record {
	return protocol.Record{
		Kind: k, CardNo: p.CardNo, Amount: p.Amount,
		BalanceBefore: p.BalanceBefore, CardCounter: p.CardCounter,
		TerminalID: p.TerminalID, TerminalSeq: p.TerminalSeq,
		TxTime: p.TxTime, CardSerial: p.CardSerial,
		KeyIndex: p.KeyIndex, KeyVersion: p.KeyVersion, Algorithm: p.Algorithm, MAC1: p.MAC1,
	}
}

func intentFromRecord(r *protocol.Record) PurchaseIntent {
	return PurchaseIntent{
		CardNo: r.CardNo, Amount: r.Amount, BalanceBefore: r.BalanceBefore,
		CardCounter: r.CardCounter, TerminalID: r.TerminalID, TerminalSeq: r.TerminalSeq,
		TxTime: r.TxTime, CardSerial: r.CardSerial,
		KeyIndex: r.KeyIndex, KeyVersion: r.KeyVersion, Algorithm: r.Algorithm, MAC1: r.MAC1,
	}
}

// IntentState is where an intent stands.
type IntentState uint8

// Intent states. A completed or voided intent leaves the intents bucket;
// its records stay in the journal.
const (
	IntentOpen      IntentState = 1 // DEBIT not yet answered
	IntentUncertain IntentState = 2 // torn: resolve when the card returns
)

// String names the state.
func (s IntentState) String() string {
	switch s {
	case IntentOpen:
		return "open"
	case IntentUncertain:
		return "uncertain"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Intent is an open or uncertain purchase.
type Intent struct {
	ID    uint64 // the journal sequence of its purchase-intent record
	State IntentState
	Time  time.Time // when it was opened
	PurchaseIntent
}

// Completion is what the card and PSAM returned for a successful debit.
type Completion struct {
	BalanceAfter int64  // fen
	TAC          []byte // 4 bytes
	MAC2         []byte // 4 bytes
	// ByLog: the debit is proven by the card's own transaction log, not by
	// a TAC (the card keeps the proof of its last transaction only, and
	// was used since): TAC and MAC2 are empty and the record's reason is
	// ReasonCardLog.
	ByLog bool
}

// ReasonCardLog is the reason of a purchase-completed record whose debit
// the card's transaction log proves (no TAC).
const ReasonCardLog = "card-log"

// OpenIntent journals a purchase intent and stores it as open in one fsync'd
// commit, before the card is debited. Every field but the key index, key
// version and algorithm (whose zero is a valid value) is required: an intent
// that could not be recovered from the card is refused with ErrInvalid. It
// returns ErrStorageFull when new purchases no longer fit.
func (s *Store) OpenIntent(p PurchaseIntent) (Intent, error) {
	if err := p.validate(); err != nil {
		return Intent{}, fmt.Errorf("offline: open intent: %w", err)
	}
	var in Intent
	err := s.update("open intent", func(tx *bolt.Tx) error {
		e, err := s.appendTx(tx, p.record(protocol.KindPurchaseIntent), classNew)
		if err != nil {
			return err
		}
		raw, err := s.recordBytes(tx, e.Record.Seq)
		if err != nil {
			return err
		}
		in = Intent{ID: e.Record.Seq, State: IntentOpen, Time: e.Record.WallTime(), PurchaseIntent: p}
		return putIntent(tx, in.ID, IntentOpen, raw)
	})
	if err != nil {
		return Intent{}, err
	}
	return in, nil
}

// CompleteIntent journals the completion of an open or uncertain intent and
// removes it, atomically, through the group commit (the intent is already
// durable, so the outcome is recoverable if this commit is lost). It returns
// the completion record's sequence.
func (s *Store) CompleteIntent(id uint64, c Completion) (uint64, error) {
	return s.resolve("complete intent", id, func(in Intent) (protocol.Record, error) {
		switch {
		case c.BalanceAfter < 0:
			return protocol.Record{}, fmt.Errorf("offline: complete intent %d: negative balance: %w", id, ErrInvalid)
		case c.ByLog && (len(c.TAC) != 0 || len(c.MAC2) != 0):
			return protocol.Record{}, fmt.Errorf("offline: complete intent %d: a completion by the card's log has no TAC or MAC2: %w", id, ErrInvalid)
		case !c.ByLog && (len(c.TAC) != 4 || len(c.MAC2) != 4):
			return protocol.Record{}, fmt.Errorf("offline: complete intent %d: 4-byte TAC and MAC2 needed: %w", id, ErrInvalid)
		}
		r := intentRecord(protocol.KindPurchaseCompleted, in)
		r.BalanceAfter = c.BalanceAfter
		if c.ByLog {
			r.Reason = ReasonCardLog
		} else {
			r.TAC, r.MAC2 = c.TAC, c.MAC2
		}
		return r, nil
	}, true)
}

// VoidIntent journals that the debit did not happen and removes the intent.
func (s *Store) VoidIntent(id uint64, reason string) (uint64, error) {
	return s.resolve("void intent", id, func(in Intent) (protocol.Record, error) {
		r := intentRecord(protocol.KindPurchaseVoided, in)
		r.Reason = reason
		return r, nil
	}, false)
}

// MarkUncertain journals that the outcome of an open intent is unknown (card
// torn away after DEBIT) and keeps it as uncertain until the card returns.
func (s *Store) MarkUncertain(id uint64, reason string) (uint64, error) {
	var seq uint64
	err := s.update("mark intent uncertain", func(tx *bolt.Tx) error {
		in, raw, err := getIntent(tx, id)
		if err != nil {
			return err
		}
		if in.State != IntentOpen {
			return fmt.Errorf("offline: mark intent %d uncertain: it is %v: %w", id, in.State, ErrIntentState)
		}
		r := intentRecord(protocol.KindPurchaseUncertain, in)
		r.Reason = reason
		e, err := s.appendTx(tx, r, classEvidence)
		if err != nil {
			return err
		}
		seq = e.Record.Seq
		return putIntent(tx, id, IntentUncertain, raw)
	})
	return seq, err
}

func (s *Store) resolve(op string, id uint64, mk func(Intent) (protocol.Record, error), group bool) (uint64, error) {
	var seq uint64
	fn := func(tx *bolt.Tx) error {
		in, _, err := getIntent(tx, id)
		if err != nil {
			return err
		}
		r, err := mk(in)
		if err != nil {
			return err
		}
		e, err := s.appendTx(tx, r, classEvidence)
		if err != nil {
			return err
		}
		seq = e.Record.Seq
		if err := tx.Bucket(bucketIntents).Delete(be64(id)); err != nil {
			return fmt.Errorf("offline: %s %d: %w", op, id, err)
		}
		return nil
	}
	var err error
	if group {
		err = s.batch(op, fn)
	} else {
		err = s.update(op, fn)
	}
	return seq, err
}

// intentRecord is the resolution record of kind k: all of the intent's
// fields, so that the ledger checks the TAC from this one record.
func intentRecord(k protocol.Kind, in Intent) protocol.Record {
	r := in.record(k)
	r.IntentID = in.ID
	return r
}

// Intents lists the open and uncertain intents in the order they were
// opened: after a restart, the ones to resolve.
func (s *Store) Intents() ([]Intent, error) {
	var out []Intent
	err := s.view("intents", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIntents).ForEach(func(k, v []byte) error {
			in, err := decodeIntent(k, v)
			if err != nil {
				return err
			}
			out = append(out, in)
			return nil
		})
	})
	return out, err
}

// FindUncertain returns the oldest uncertain intent of a card, or
// ErrNotFound: called when a card is seen, before starting a new purchase.
func (s *Store) FindUncertain(cardNo string) (Intent, error) {
	ins, err := s.Intents()
	if err != nil {
		return Intent{}, err
	}
	for _, in := range ins {
		if in.State == IntentUncertain && in.CardNo == cardNo {
			return in, nil
		}
	}
	return Intent{}, fmt.Errorf("offline: find uncertain intent of card %s: %w", cardNo, ErrNotFound)
}

// recordBytes returns a copy of the stored record seq.
func (s *Store) recordBytes(tx *bolt.Tx, seq uint64) ([]byte, error) {
	v := tx.Bucket(bucketJournal).Get(be64(seq))
	if v == nil {
		return nil, fmt.Errorf("offline: journal record %d: %w", seq, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// An intent is stored as state(1) ‖ the exact bytes of its intent record, so
// it stays self-contained even after the journal record is purged. Adding the
// recovery fields (record keys 20..25) did not change this format: a value
// written before them is still a canonical record and decodes, with those
// fields empty (Recoverable reports false), so no migration is needed.
func putIntent(tx *bolt.Tx, id uint64, st IntentState, raw []byte) error {
	v := make([]byte, 1+len(raw))
	v[0] = byte(st)
	copy(v[1:], raw)
	if err := tx.Bucket(bucketIntents).Put(be64(id), v); err != nil {
		return fmt.Errorf("offline: store intent %d: %w", id, err)
	}
	return nil
}

func getIntent(tx *bolt.Tx, id uint64) (Intent, []byte, error) {
	v := tx.Bucket(bucketIntents).Get(be64(id))
	if v == nil {
		return Intent{}, nil, fmt.Errorf("offline: intent %d: %w", id, ErrNotFound)
	}
	in, err := decodeIntent(be64(id), v)
	return in, bytes.Clone(v[1:]), err
}

func decodeIntent(k, v []byte) (Intent, error) {
	if len(v) < 1 || (v[0] != byte(IntentOpen) && v[0] != byte(IntentUncertain)) {
		return Intent{}, fmt.Errorf("offline: intent %x: bad state: %w", k, ErrCorrupt)
	}
	r, err := protocol.DecodeRecord(v[1:])
	switch {
	case err != nil:
		return Intent{}, fmt.Errorf("offline: intent %x: %w: %w", k, ErrCorrupt, err)
	case r.Kind != protocol.KindPurchaseIntent:
		return Intent{}, fmt.Errorf("offline: intent %x: a %v record: %w", k, r.Kind, ErrCorrupt)
	case len(k) != 8 || binary.BigEndian.Uint64(k) != r.Seq:
		return Intent{}, fmt.Errorf("offline: intent %x: its record is sequence %d: %w", k, r.Seq, ErrCorrupt)
	}
	return Intent{ID: r.Seq, State: IntentState(v[0]), Time: r.WallTime(), PurchaseIntent: intentFromRecord(&r)}, nil
}
