package offline

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Card-write intents (issue 15, docs/protocol.md §8.5). A trade at a
// kiosk or a desk that changes what a card says (the limit, the status
// and status-list version, the validity end, the PIN) makes a pending card
// write at the ledger (protocol.CardWrite); the device writes the card and
// reports the outcome. Before the card is touched the device makes the
// write durable here (OpenCardWrite, one fsync'd commit), and the outcome
// is journaled (a protocol.KindCardWrite record) in the same commit as the
// intent's change (SettleCardWrite), so that a write torn by a pulled card
// or a power cut is never forgotten and its outcome is journaled with the
// state that says so.
//
// Its life, kept in the bucket "cardwrites" (created by migration 6) under
// its write id:
//
//	open ──Settle(written|failed)──► settled ──MarkReported──► reported ──Forget──► (gone)
//	open ──Settle(torn-unknown)──► torn ──Settle(written|failed)──► settled ...
//	torn ──Settle(torn-unknown)──► torn (another attempt: journaled again)
//	open, torn ──Forget──► (gone: the ledger no longer lists the write as pending)
//
// An open intent after a restart is like a torn one: the card may hold the
// value (the command may have been sent). Both are what OpenCardWrites
// lists for a card when it returns (补写: writing the same value again is
// harmless). Every settlement waits to be reported to the ledger
// (CardWritesToReport); a torn one too, so that the ledger marks the
// write torn and any device completes it.

// bucketCardWrites holds the card-write intents: write id → cardWriteValue.
var bucketCardWrites = []byte("cardwrites")

// Outcomes of a card write as the store keeps them: the names of
// protocol.WriteOutcome.
const (
	CardWriteWritten     = "written"      // protocol.OutcomeWritten: the card holds the value (Echo its read-back)
	CardWriteFailed      = "failed"       // protocol.OutcomeFailed: the card refused it
	CardWriteTornUnknown = "torn-unknown" // protocol.OutcomeTornUnknown: the card left after the command was sent
)

// Errors of the card-write intents (match with errors.Is; ErrNotFound,
// ErrInvalid and ErrIntentState apply too).
var (
	// ErrCardWriteConflict: a write id already names another intent (other
	// card, field, trade, operator or commands) in the store.
	ErrCardWriteConflict = errors.New("card write id names another write")
)

// Bounds of a card-write intent.
const (
	// MaxCardWriteCommands bounds CardWriteIntent.Writes.
	MaxCardWriteCommands = 4
	// MaxCardWriteData bounds the data of one UPDATE BINARY.
	MaxCardWriteData = 128
	// maxCardWriteValue bounds a stored intent.
	maxCardWriteValue = 1024
)

// CardWriteBinary is one UPDATE BINARY a card write sends (the store's
// copy of reader/epurse.BinaryWrite, which it may not import): the short
// file identifier, the offset in the file and the bytes written.
type CardWriteBinary struct {
	SFI    uint8
	Offset uint8
	Data   []byte
}

// CardWriteEcho is the card's read-back of a written field (the values of
// protocol.CardWriteReport): set only when the outcome is written, and
// empty for a PIN write.
type CardWriteEcho struct {
	TxLimit       int64
	CardStatus    uint8
	StatusVersion uint64
	ValidUntil    string // YYYYMMDD
}

// CardWriteIntent is a card write as the store holds it. The caller fills
// WriteID, CardNo, Field, Trade, Operator (at a desk) and Writes for
// OpenCardWrite; the store fills the rest.
type CardWriteIntent struct {
	WriteID  string // the ledger's write id (W-n)
	CardNo   string
	Field    string // protocol.WriteField.String(): tx-limit, status, valid-until, pin, pin-reload
	Trade    string // protocol.Trade.String(): set-limit, unfreeze, ...
	Operator string // the desk's operator; empty at a kiosk
	// Writes are the commands that write the card (none for a PIN write).
	Writes []CardWriteBinary
	// Opened is when OpenCardWrite committed it.
	Opened time.Time
	// Outcome is "" while open, else CardWriteWritten, CardWriteFailed or
	// CardWriteTornUnknown (still to be completed).
	Outcome string
	Echo    CardWriteEcho
	// Reported: the ledger acknowledged the report of Outcome.
	Reported bool
	// Seq is the card-write record of the last settlement (0 while open).
	Seq uint64
	// no orders the intents as they were opened.
	no uint64
}

// Done reports whether the write is settled for good (written or failed).
func (w *CardWriteIntent) Done() bool {
	return w.Outcome == CardWriteWritten || w.Outcome == CardWriteFailed
}

// sameWrite reports whether o is the same write as w (what OpenCardWrite
// was given).
func (w *CardWriteIntent) sameWrite(o *CardWriteIntent) bool {
	return w.WriteID == o.WriteID && w.CardNo == o.CardNo && w.Field == o.Field && w.Trade == o.Trade &&
		w.Operator == o.Operator && slices.EqualFunc(w.Writes, o.Writes, func(a, b CardWriteBinary) bool {
		return a.SFI == b.SFI && a.Offset == b.Offset && bytes.Equal(a.Data, b.Data)
	})
}

// record is the card-write record of w's current outcome.
func (w *CardWriteIntent) record() protocol.Record {
	return protocol.Record{Kind: protocol.KindCardWrite, CardNo: w.CardNo, Ref: w.WriteID, Field: w.Field,
		Trade: w.Trade, Reason: w.Outcome, Operator: w.Operator}
}

// validateWrite checks what the caller gives OpenCardWrite: what the
// card-write record will carry (the record's own rules: names of bounded
// length, a valid card number) and the commands.
func (w *CardWriteIntent) validateWrite() error {
	r := w.record()
	r.Seq, r.Prev, r.Reason = 1, make([]byte, protocol.HashSize), CardWriteTornUnknown
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if w.Trade == "" {
		return fmt.Errorf("no trade: %w", ErrInvalid)
	}
	if len(w.Writes) > MaxCardWriteCommands {
		return fmt.Errorf("%d commands, at most %d: %w", len(w.Writes), MaxCardWriteCommands, ErrInvalid)
	}
	for i, b := range w.Writes {
		if b.SFI == 0 || b.SFI > 30 || len(b.Data) == 0 || len(b.Data) > MaxCardWriteData {
			return fmt.Errorf("command %d: SFI %d (1 to 30), %d bytes (1 to %d): %w", i, b.SFI, len(b.Data), MaxCardWriteData, ErrInvalid)
		}
	}
	return nil
}

// validateOutcome checks an outcome and its echo: an echo only with
// written, each value within the card's range.
func validateOutcome(outcome string, e CardWriteEcho) error {
	switch outcome {
	case CardWriteWritten:
	case CardWriteFailed, CardWriteTornUnknown:
		if e != (CardWriteEcho{}) {
			return fmt.Errorf("a read-back with outcome %s: %w", outcome, ErrInvalid)
		}
	default:
		return fmt.Errorf("outcome %q: %w", outcome, ErrInvalid)
	}
	if e.TxLimit < 0 || e.TxLimit > protocol.MaxTxLimit || e.StatusVersion > 0xFFFFFFFF || (e.ValidUntil != "" && !validDate(e.ValidUntil)) {
		return fmt.Errorf("read-back %+v out of the card's range: %w", e, ErrInvalid)
	}
	return nil
}

// validDate: YYYYMMDD of a real day.
func validDate(s string) bool {
	if len(s) != 8 {
		return false
	}
	t, err := time.Parse("20060102", s)
	return err == nil && t.Format("20060102") == s
}

// cardWriteBinary is a CardWriteBinary as stored.
type cardWriteBinary struct {
	_      struct{} `cbor:",toarray"`
	SFI    uint8
	Offset uint8
	Data   []byte
}

// cardWriteValue is a CardWriteIntent as stored under its write id:
// canonical CBOR (keys as integers).
type cardWriteValue struct {
	No            uint64            `cbor:"1,keyasint"`
	CardNo        string            `cbor:"2,keyasint"`
	Field         string            `cbor:"3,keyasint"`
	Trade         string            `cbor:"4,keyasint"`
	Operator      string            `cbor:"5,keyasint,omitempty"`
	Writes        []cardWriteBinary `cbor:"6,keyasint,omitempty"`
	Opened        int64             `cbor:"7,keyasint"` // Unix ms
	Outcome       string            `cbor:"8,keyasint,omitempty"`
	TxLimit       int64             `cbor:"9,keyasint,omitempty"`
	CardStatus    uint8             `cbor:"10,keyasint,omitempty"`
	StatusVersion uint64            `cbor:"11,keyasint,omitempty"`
	ValidUntil    string            `cbor:"12,keyasint,omitempty"`
	Reported      bool              `cbor:"13,keyasint,omitempty"`
	Seq           uint64            `cbor:"14,keyasint,omitempty"`
}

var (
	cardWriteEnc = func() cbor.EncMode {
		em, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return em
	}()
	cardWriteDec = protocol.MustStrictDecMode(protocol.DecLimits{Nesting: 4, ArrayElements: 16, MapPairs: 16})
)

func (w *CardWriteIntent) value() cardWriteValue {
	v := cardWriteValue{
		No: w.no, CardNo: w.CardNo, Field: w.Field, Trade: w.Trade, Operator: w.Operator,
		Opened: w.Opened.UnixMilli(), Outcome: w.Outcome,
		TxLimit: w.Echo.TxLimit, CardStatus: w.Echo.CardStatus, StatusVersion: w.Echo.StatusVersion, ValidUntil: w.Echo.ValidUntil,
		Reported: w.Reported, Seq: w.Seq,
	}
	for _, b := range w.Writes {
		v.Writes = append(v.Writes, cardWriteBinary{SFI: b.SFI, Offset: b.Offset, Data: b.Data})
	}
	return v
}

func putCardWrite(tx *bolt.Tx, w *CardWriteIntent) error {
	raw, err := cardWriteEnc.Marshal(w.value())
	if err != nil {
		return fmt.Errorf("offline: store card write %s: %w", w.WriteID, err)
	}
	if err := tx.Bucket(bucketCardWrites).Put([]byte(w.WriteID), raw); err != nil {
		return fmt.Errorf("offline: store card write %s: %w", w.WriteID, err)
	}
	return nil
}

// decodeCardWrite decodes a stored card-write intent from hostile bytes:
// anything but the canonical encoding of a valid intent is ErrCorrupt.
func decodeCardWrite(k, v []byte) (CardWriteIntent, error) {
	bad := func(why string, err error) (CardWriteIntent, error) {
		if err != nil {
			return CardWriteIntent{}, fmt.Errorf("offline: card write %q: %s: %w: %w", k, why, ErrCorrupt, err)
		}
		return CardWriteIntent{}, fmt.Errorf("offline: card write %q: %s: %w", k, why, ErrCorrupt)
	}
	if len(k) == 0 || len(k) > protocol.MaxKeyIDLen {
		return bad("bad key", nil)
	}
	if len(v) > maxCardWriteValue {
		return bad(fmt.Sprintf("%d bytes", len(v)), nil)
	}
	var cv cardWriteValue
	if err := cardWriteDec.Unmarshal(v, &cv); err != nil {
		return bad("does not decode", err)
	}
	if again, err := cardWriteEnc.Marshal(cv); err != nil || !bytes.Equal(again, v) {
		return bad("not canonical", nil)
	}
	w := CardWriteIntent{
		WriteID: string(k), CardNo: cv.CardNo, Field: cv.Field, Trade: cv.Trade, Operator: cv.Operator,
		Opened: time.UnixMilli(cv.Opened).UTC(), Outcome: cv.Outcome,
		Echo:     CardWriteEcho{TxLimit: cv.TxLimit, CardStatus: cv.CardStatus, StatusVersion: cv.StatusVersion, ValidUntil: cv.ValidUntil},
		Reported: cv.Reported, Seq: cv.Seq, no: cv.No,
	}
	for _, b := range cv.Writes {
		w.Writes = append(w.Writes, CardWriteBinary{SFI: b.SFI, Offset: b.Offset, Data: b.Data})
	}
	if err := w.validateWrite(); err != nil {
		return bad("invalid", err)
	}
	switch {
	case cv.No == 0 || cv.Opened < 0:
		return bad("no order or time", nil)
	case cv.Writes != nil && len(cv.Writes) == 0:
		return bad("empty commands", nil)
	case w.Outcome == "" && (w.Seq != 0 || w.Reported || w.Echo != (CardWriteEcho{})):
		return bad("an open write with a settlement", nil)
	case w.Outcome != "" && w.Seq == 0:
		return bad("settled without its record", nil)
	}
	if w.Outcome != "" {
		if err := validateOutcome(w.Outcome, w.Echo); err != nil {
			return bad("invalid outcome", err)
		}
	}
	return w, nil
}

func getCardWrite(tx *bolt.Tx, id string) (CardWriteIntent, error) {
	if id == "" || len(id) > protocol.MaxKeyIDLen {
		return CardWriteIntent{}, fmt.Errorf("offline: card write %q: %w", id, ErrInvalid)
	}
	v := tx.Bucket(bucketCardWrites).Get([]byte(id))
	if v == nil {
		return CardWriteIntent{}, fmt.Errorf("offline: card write %s: %w", id, ErrNotFound)
	}
	return decodeCardWrite([]byte(id), v)
}

// cardWritesTx returns the intents keep selects, in the order they were
// opened.
func cardWritesTx(tx *bolt.Tx, keep func(*CardWriteIntent) bool) ([]CardWriteIntent, error) {
	var out []CardWriteIntent
	err := tx.Bucket(bucketCardWrites).ForEach(func(k, v []byte) error {
		w, err := decodeCardWrite(k, v)
		if err != nil {
			return err
		}
		if keep(&w) {
			out = append(out, w)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b CardWriteIntent) int { return cmp.Compare(a.no, b.no) })
	return out, err
}

// OpenCardWrite makes a card write durable, as open, in one fsync'd
// commit: call it before the first command of the write is sent to the
// card. WriteID, CardNo, Field and Trade are required, Operator at a desk;
// the names follow the card-write record's rules and the commands
// MaxCardWriteCommands and MaxCardWriteData (ErrInvalid). It is
// idempotent by write id: the same write again returns the intent stored
// (whatever its outcome: a write already done is not done twice), another
// write under the same id is ErrCardWriteConflict. It returns
// ErrStorageFull when new work no longer fits (its record must).
func (s *Store) OpenCardWrite(in CardWriteIntent) (CardWriteIntent, error) {
	w := CardWriteIntent{WriteID: in.WriteID, CardNo: in.CardNo, Field: in.Field, Trade: in.Trade, Operator: in.Operator}
	for _, b := range in.Writes {
		w.Writes = append(w.Writes, CardWriteBinary{SFI: b.SFI, Offset: b.Offset, Data: bytes.Clone(b.Data)})
	}
	if err := w.validateWrite(); err != nil {
		return CardWriteIntent{}, fmt.Errorf("offline: open card write %q: %w", in.WriteID, err)
	}
	err := s.update("open card write", func(tx *bolt.Tx) error {
		old, err := getCardWrite(tx, w.WriteID)
		switch {
		case err == nil && old.sameWrite(&w):
			w = old
			return nil
		case err == nil:
			return fmt.Errorf("offline: open card write %s: stored for card %s field %s: %w", w.WriteID, old.CardNo, old.Field, ErrCardWriteConflict)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		h, err := s.readHead(tx)
		if err != nil {
			return err
		}
		if err := s.checkRoom(tx, h.seq, classNew); err != nil {
			return err
		}
		no, err := tx.Bucket(bucketCardWrites).NextSequence()
		if err != nil {
			return fmt.Errorf("offline: open card write %s: %w", w.WriteID, err)
		}
		w.no, w.Opened = no, time.UnixMilli(s.opts.Clock.Now().UnixMilli()).UTC()
		return putCardWrite(tx, &w)
	})
	if err != nil {
		return CardWriteIntent{}, err
	}
	return w, nil
}

// SettleCardWrite records the outcome of a card write (CardWriteWritten
// with the card's read-back echo, CardWriteFailed, CardWriteTornUnknown)
// and journals its card-write record in the same fsync'd commit; the
// settlement then waits to be reported (CardWritesToReport). A torn write
// stays to be completed (OpenCardWrites) and may be settled again, each
// time journaled. A write settled written or failed settled again with
// the same outcome and echo is a no-op that returns it; with another,
// ErrIntentState. An echo with another outcome than written, or out of
// the card's range, is ErrInvalid; an unknown write id ErrNotFound.
func (s *Store) SettleCardWrite(writeID, outcome string, echo CardWriteEcho) (CardWriteIntent, error) {
	if err := validateOutcome(outcome, echo); err != nil {
		return CardWriteIntent{}, fmt.Errorf("offline: settle card write %q: %w", writeID, err)
	}
	var w CardWriteIntent
	err := s.update("settle card write", func(tx *bolt.Tx) error {
		var err error
		if w, err = getCardWrite(tx, writeID); err != nil {
			return err
		}
		if w.Done() {
			if w.Outcome == outcome && w.Echo == echo {
				return nil
			}
			return fmt.Errorf("offline: settle card write %s %s: it is %s already: %w", writeID, outcome, w.Outcome, ErrIntentState)
		}
		w.Outcome, w.Echo, w.Reported = outcome, echo, false
		e, err := s.appendTx(tx, w.record(), classEvidence)
		if err != nil {
			return err
		}
		w.Seq = e.Record.Seq
		return putCardWrite(tx, &w)
	})
	if err != nil {
		return CardWriteIntent{}, err
	}
	return w, nil
}

// CardWritesToReport lists the settled card writes whose outcome the
// ledger has not acknowledged yet (torn ones included), oldest first:
// report each (protocol.CardWriteReport) and then MarkCardWriteReported.
func (s *Store) CardWritesToReport() ([]CardWriteIntent, error) {
	return s.listCardWrites("card writes to report", func(w *CardWriteIntent) bool { return w.Outcome != "" && !w.Reported })
}

// MarkCardWriteReported records that the ledger acknowledged the report of
// outcome for the write, through the group commit (losing it only means
// reporting again: the ledger answers a repeated report the same). When
// the write was settled again since (another outcome than the one
// reported), it stays to be reported and ErrIntentState says so.
func (s *Store) MarkCardWriteReported(writeID, outcome string) error {
	return s.batch("mark card write reported", func(tx *bolt.Tx) error {
		w, err := getCardWrite(tx, writeID)
		switch {
		case err != nil:
			return err
		case w.Outcome == "":
			return fmt.Errorf("offline: mark card write %s reported: it is open: %w", writeID, ErrIntentState)
		case w.Outcome != outcome:
			return fmt.Errorf("offline: mark card write %s reported %s: it is %s now: %w", writeID, outcome, w.Outcome, ErrIntentState)
		case w.Reported:
			return nil
		}
		w.Reported = true
		return putCardWrite(tx, &w)
	})
}

// OpenCardWrites lists the card's writes still to complete (补写 when the
// card returns): open ones (after a restart the card may hold the value)
// and torn ones, oldest first.
func (s *Store) OpenCardWrites(cardNo string) ([]CardWriteIntent, error) {
	return s.listCardWrites("open card writes", func(w *CardWriteIntent) bool {
		return w.CardNo == cardNo && (w.Outcome == "" || w.Outcome == CardWriteTornUnknown)
	})
}

// CardWrites lists every card-write intent the store holds, oldest first
// (diagnostics; what a restart resumes).
func (s *Store) CardWrites() ([]CardWriteIntent, error) {
	return s.listCardWrites("card writes", func(*CardWriteIntent) bool { return true })
}

func (s *Store) listCardWrites(op string, keep func(*CardWriteIntent) bool) ([]CardWriteIntent, error) {
	var out []CardWriteIntent
	err := s.view(op, func(tx *bolt.Tx) error {
		var err error
		out, err = cardWritesTx(tx, keep)
		return err
	})
	return out, err
}

// ForgetCardWrite removes a card-write intent, journaling nothing: one
// settled and reported (written, failed: its record is in the journal and
// the ledger has it), or one open or torn that the ledger no longer lists
// as pending for its card (another device completed it, or a desk gave
// it up). A settlement not yet reported is ErrIntentState: its outcome
// must reach the ledger first.
func (s *Store) ForgetCardWrite(writeID string) error {
	return s.update("forget card write", func(tx *bolt.Tx) error {
		w, err := getCardWrite(tx, writeID)
		if err != nil {
			return err
		}
		if w.Outcome != "" && !w.Reported {
			return fmt.Errorf("offline: forget card write %s: %s not reported yet: %w", writeID, w.Outcome, ErrIntentState)
		}
		return tx.Bucket(bucketCardWrites).Delete([]byte(writeID))
	})
}

// JournalService appends r, the service record of a trade the ledger
// answered (protocol.KindService: Trade, Ref the request id in hex, CardNo
// or Account, Operator at a desk, Reason the refusal code when refused,
// Amount when money moved), in one fsync'd commit, and returns its
// sequence. The record has no field for a PIN or an ID number. Another
// kind is ErrInvalid, and so is a record breaking the service record's
// rules.
func (s *Store) JournalService(r protocol.Record) (uint64, error) {
	if r.Kind != protocol.KindService {
		return 0, fmt.Errorf("offline: journal service: kind %v: %w", r.Kind, ErrInvalid)
	}
	var seq uint64
	err := s.update("journal service", func(tx *bolt.Tx) error {
		e, err := s.appendTx(tx, r, classEvidence)
		seq = e.Record.Seq
		return err
	})
	return seq, err
}
