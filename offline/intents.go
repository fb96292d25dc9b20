package offline

import (
	"bytes"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// PurchaseIntent is what the terminal knows before DEBIT FOR PURCHASE
// (DESIGN.md 3.1 step 4): enough to recover the outcome from the card later.
type PurchaseIntent struct {
	CardNo        string
	Amount        int64  // fen
	BalanceBefore int64  // fen, from INITIALIZE FOR PURCHASE
	CardCounter   uint32 // offline counter N from INITIALIZE FOR PURCHASE
	TerminalID    []byte // PSAM terminal id, 6 bytes
	TerminalSeq   uint32 // PSAM terminal sequence from INIT SAM FOR PURCHASE
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
}

// OpenIntent journals a purchase intent and stores it as open in one fsync'd
// commit, before the card is debited. It returns ErrStorageFull when new
// purchases no longer fit.
func (s *Store) OpenIntent(p PurchaseIntent) (Intent, error) {
	if p.CardNo == "" || p.Amount <= 0 {
		return Intent{}, fmt.Errorf("offline: open intent: card number and a positive amount needed: %w", ErrInvalid)
	}
	var in Intent
	err := s.update("open intent", func(tx *bolt.Tx) error {
		e, err := s.appendTx(tx, protocol.Record{
			Kind: protocol.KindPurchaseIntent, CardNo: p.CardNo, Amount: p.Amount,
			BalanceBefore: p.BalanceBefore, CardCounter: p.CardCounter,
			TerminalID: p.TerminalID, TerminalSeq: p.TerminalSeq,
		}, classNew)
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
		if c.BalanceAfter < 0 || len(c.TAC) != 4 || len(c.MAC2) != 4 {
			return protocol.Record{}, fmt.Errorf("offline: complete intent %d: balance, 4-byte TAC and MAC2 needed: %w", id, ErrInvalid)
		}
		r := intentRecord(protocol.KindPurchaseCompleted, in)
		r.BalanceAfter, r.TAC, r.MAC2 = c.BalanceAfter, c.TAC, c.MAC2
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

func intentRecord(k protocol.Kind, in Intent) protocol.Record {
	return protocol.Record{
		Kind: k, IntentID: in.ID, CardNo: in.CardNo, Amount: in.Amount,
		BalanceBefore: in.BalanceBefore, CardCounter: in.CardCounter,
		TerminalID: in.TerminalID, TerminalSeq: in.TerminalSeq,
	}
}

// Intents lists the open and uncertain intents in the order they were
// opened: after a restart, the ones to resolve.
func (s *Store) Intents() ([]Intent, error) {
	var out []Intent
	err := s.db.View(func(tx *bolt.Tx) error {
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
// it stays self-contained even after the journal record is purged.
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
	if err != nil || r.Kind != protocol.KindPurchaseIntent {
		return Intent{}, fmt.Errorf("offline: intent %x: %w: %v", k, ErrCorrupt, err)
	}
	return Intent{
		ID: r.Seq, State: IntentState(v[0]), Time: r.WallTime(),
		PurchaseIntent: PurchaseIntent{
			CardNo: r.CardNo, Amount: r.Amount, BalanceBefore: r.BalanceBefore,
			CardCounter: r.CardCounter, TerminalID: r.TerminalID, TerminalSeq: r.TerminalSeq,
		},
	}, nil
}
