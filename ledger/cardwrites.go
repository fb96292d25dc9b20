package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Card writes (issue 15). A trade that changes what a card must say makes
// a pending CardWrite; the account keeps what it had, and the new value
// waits in the write. The rule: the ledger never believes a card says
// what it does not. Only a report "written" with the card's read-back
// equal to the write's values (none for a PIN) applies the write to the
// account: the new PIN's verification value, the limit, the validity end,
// the state of an unfrozen or reactivated card and its removal from the
// status list. "failed" drops it (the account keeps what it had);
// "torn-unknown" leaves it pending (Torn) for the next device that sees
// the card (补写). A card has at most one pending write per kind of field
// (the two PIN writes are one kind): a trade that would make a second is
// refused (ErrWritePending) until the first is finished, except the
// registry's extension, which replaces a pending validity write.

// Buckets of the card writes.
var (
	bucketCardWrites   = []byte("cardwrites")   // be64 write id → JSON CardWrite
	bucketCardWriteIdx = []byte("cardwriteidx") // card ‖ 0 ‖ be64 write id → field group, pending writes only
)

var keyCardWriteSeq = []byte("cardwriteseq")

// Errors of the services and card writes; the server answers each with
// its protocol code.
var (
	// ErrStateRefused: the account's (or the card write's) state does not
	// allow the trade.
	ErrStateRefused = errors.New("ledger: the state does not allow the trade")
	// ErrWritePending: a card write of the same field waits for the card.
	ErrWritePending = errors.New("ledger: a card write of the same field is pending")
	// ErrUnknownRef: no card write or fee order of that id (for the card).
	ErrUnknownRef = errors.New("ledger: no such card write or order")
	// ErrWriteMismatch: the card's read-back differs from the write.
	ErrWriteMismatch = errors.New("ledger: the card's read-back does not match the write")
	// ErrIDInvalid: the national ID number does not match the account's.
	ErrIDInvalid = errors.New("ledger: national ID number invalid")
	// ErrTriesLocked: too many wrong ID numbers; locked for a while.
	ErrTriesLocked = errors.New("ledger: too many wrong tries: locked")
	// ErrLoadUnsettled: a load of the card is authorised and not settled.
	ErrLoadUnsettled = errors.New("ledger: a load of the card is unsettled")
)

func init() {
	allBuckets = append(allBuckets, bucketCardWrites, bucketCardWriteIdx, bucketTrades, bucketFeeOrders, bucketFeeTotals)
	codes = append(codes, []struct {
		err  error
		code protocol.Code
	}{
		{ErrStateRefused, protocol.CodeStateRefused},
		{ErrWritePending, protocol.CodeWritePending},
		{ErrUnknownRef, protocol.CodeUnknownRef},
		{ErrWriteMismatch, protocol.CodeWriteMismatch},
		{ErrIDInvalid, protocol.CodeIDInvalid},
		{ErrTriesLocked, protocol.CodeTriesLocked},
		{ErrLoadUnsettled, protocol.CodeLoadUnsettled},
		{accounts.ErrBalance, protocol.CodeInsufficient},
	}...)
}

// CardWrite is a card write as the ledger keeps it.
type CardWrite struct {
	ID      uint64              `json:"id"`
	Card    string              `json:"card"`
	Account string              `json:"account"`
	Field   protocol.WriteField `json:"field"`
	Trade   protocol.Trade      `json:"trade"`
	// Ref names what made it: the device and request id of the trade,
	// or the extension file's line.
	Ref    string              `json:"ref"`
	Values protocol.CardValues `json:"values"`
	// PVV is, for the PIN writes, the verification value of the new PIN
	// (salt ‖ value) that becomes the account's when written.
	PVV []byte `json:"pvv,omitempty"`
	// From and To are, for a status write of unfreeze or reactivate, the
	// account's state it applies to and the state it gives.
	From accounts.State `json:"from,omitempty"`
	To   accounts.State `json:"to,omitempty"`

	State    protocol.WriteState `json:"state"`
	Torn     bool                `json:"torn,omitempty"`
	Created  time.Time           `json:"created"`
	Finished time.Time           `json:"finished,omitzero"`
	// Operator is the desk operator of the trade; ReportOperator the one
	// who reported the outcome (a desk's report), Device the device that
	// reported it.
	Operator       string `json:"operator,omitempty"`
	Device         string `json:"device,omitempty"`
	ReportOperator string `json:"report_operator,omitempty"`
	// Applied is the status-list version of the change a status write
	// made when written (0 none); Note says why a write changed less
	// than it says (superseded, the account changed since).
	Applied uint64 `json:"applied,omitempty"`
	Note    string `json:"note,omitempty"`
}

// WriteID returns the write's wire id ("W-17").
func (w *CardWrite) WriteID() string { return "W-" + strconv.FormatUint(w.ID, 10) }

// ParseWriteID returns the number of a wire write id (ErrUnknownRef).
func ParseWriteID(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "W-"), 10, 64)
	if err != nil || n == 0 || !strings.HasPrefix(s, "W-") {
		return 0, fmt.Errorf("ledger: card write %q: %w", s, ErrUnknownRef)
	}
	return n, nil
}

// Wire returns the write as a device gets it.
func (w *CardWrite) Wire() protocol.CardWrite {
	v := w.Values
	return protocol.CardWrite{WriteID: w.WriteID(), CardNo: w.Card, Field: w.Field, Trade: w.Trade, State: w.State,
		TxLimit: v.TxLimit, CardStatus: v.CardStatus, StatusVersion: v.StatusVersion, ValidUntil: v.ValidUntil,
		Torn: w.Torn, Created: w.Created.UnixMilli()}
}

// writeGroup is the kind of field of which a card has one pending write.
func writeGroup(f protocol.WriteField) byte {
	if f == protocol.FieldPINReload {
		return byte(protocol.FieldPIN)
	}
	return byte(f)
}

func writeIdxKey(card string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(card), 0), id)
}

func putWrite(tx *bolt.Tx, w *CardWrite) error {
	if err := putJSON(tx.Bucket(bucketCardWrites), be64(w.ID), w); err != nil {
		return err
	}
	k := writeIdxKey(w.Card, w.ID)
	if w.State == protocol.WritePending {
		return tx.Bucket(bucketCardWriteIdx).Put(k, []byte{writeGroup(w.Field)})
	}
	return tx.Bucket(bucketCardWriteIdx).Delete(k)
}

func getWrite(tx *bolt.Tx, id uint64) (CardWrite, error) {
	var w CardWrite
	if err := getJSON(tx.Bucket(bucketCardWrites), be64(id), &w); err != nil {
		if errors.Is(err, ErrNotFound) {
			return CardWrite{}, fmt.Errorf("ledger: card write W-%d: %w", id, ErrUnknownRef)
		}
		return CardWrite{}, fmt.Errorf("ledger: card write W-%d: %w", id, err)
	}
	return w, nil
}

// pendingWritesTx returns the card's pending writes, oldest first.
func pendingWritesTx(tx *bolt.Tx, card string) ([]CardWrite, error) {
	var out []CardWrite
	prefix := append([]byte(card), 0)
	c := tx.Bucket(bucketCardWriteIdx).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			return nil, fmt.Errorf("ledger: card write index %q: %w", k, ErrCorrupt)
		}
		w, err := getWrite(tx, binary.BigEndian.Uint64(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// pendingWriteOf returns the card's pending write of f's group, if any.
func pendingWriteOf(tx *bolt.Tx, card string, f protocol.WriteField) (*CardWrite, error) {
	ws, err := pendingWritesTx(tx, card)
	if err != nil {
		return nil, err
	}
	for i := range ws {
		if writeGroup(ws[i].Field) == writeGroup(f) {
			return &ws[i], nil
		}
	}
	return nil, nil
}

// checkNoWrite refuses when the card has a pending write of f's group.
func checkNoWrite(tx *bolt.Tx, card string, f protocol.WriteField) error {
	w, err := pendingWriteOf(tx, card, f)
	if err != nil {
		return err
	}
	if w != nil {
		return fmt.Errorf("ledger: card %s: %s write %s (%s) pending: %w", card, w.Field, w.WriteID(), w.Trade, ErrWritePending)
	}
	return nil
}

// newWriteTx stores w as a new pending write (its id, state and time
// set here). A pending write of the same group is refused
// (ErrWritePending), or with supersede marked failed ("superseded").
func newWriteTx(tx *bolt.Tx, w *CardWrite, supersede bool, now time.Time) error {
	if err := protocol.CheckValues(w.Field, w.Values); err != nil {
		return fmt.Errorf("ledger: card write: %v: %w", err, ErrInvalid)
	}
	old, err := pendingWriteOf(tx, w.Card, w.Field)
	if err != nil {
		return err
	}
	if old != nil {
		if !supersede {
			return checkNoWrite(tx, w.Card, w.Field)
		}
		old.State, old.Finished, old.Note = protocol.WriteFailed, now.UTC(), "superseded by a later write"
		if err := putWrite(tx, old); err != nil {
			return err
		}
	}
	id, err := nextSeq(tx, keyCardWriteSeq)
	if err != nil {
		return err
	}
	w.ID, w.State, w.Created = id, protocol.WritePending, now.UTC()
	return putWrite(tx, w)
}

// PendingWrites returns the writes waiting for card, oldest first (what a
// device completes at a tap: 补写).
func (l *Ledger) PendingWrites(card string) ([]CardWrite, error) {
	if !ValidCardNo(card) {
		return nil, fmt.Errorf("ledger: pending writes: card %q: %w", card, ErrMalformed)
	}
	var out []CardWrite
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = pendingWritesTx(tx, card)
		return err
	})
	return out, err
}

// CardWriteByID returns a card write (ErrUnknownRef).
func (l *Ledger) CardWriteByID(id uint64) (CardWrite, error) {
	var w CardWrite
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		w, err = getWrite(tx, id)
		return err
	})
	return w, err
}

// WriteReport is a device's CardWriteReport as the ledger takes it.
type WriteReport struct {
	DeviceID string
	Operator string // the desk's operator ("" elsewhere)
	WriteID  uint64
	CardNo   string
	Outcome  protocol.WriteOutcome
	// Echo is the card's read-back of the field (written only).
	Echo protocol.CardValues
}

// ReportCardWrite records the outcome of a card write, exactly once:
// written (with the read-back equal to the write's values, else
// ErrWriteMismatch and nothing changes) applies it to the account; failed
// drops it; torn-unknown leaves it pending, marked torn. A report of a
// write already written or failed changes nothing and returns it as it
// is. ErrUnknownRef: no such write for this card.
func (l *Ledger) ReportCardWrite(r WriteReport) (CardWrite, error) {
	now := l.now()
	var w CardWrite
	changed := false
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		if w, err = getWrite(tx, r.WriteID); err != nil {
			return err
		}
		if w.Card != r.CardNo {
			return fmt.Errorf("ledger: card write %s is not of card %s: %w", w.WriteID(), r.CardNo, ErrUnknownRef)
		}
		if w.State != protocol.WritePending {
			return nil // finished: the same answer, nothing more
		}
		switch r.Outcome {
		case protocol.OutcomeTornUnknown:
			if w.Torn {
				return nil
			}
			w.Torn = true
		case protocol.OutcomeFailed:
			w.State, w.Finished = protocol.WriteFailed, now.UTC()
		case protocol.OutcomeWritten:
			if r.Echo != w.Values {
				return fmt.Errorf("ledger: card write %s: the card reads back %+v, not %+v: %w", w.WriteID(), r.Echo, w.Values, ErrWriteMismatch)
			}
			if err := l.applyWriteTx(tx, &w, now); err != nil {
				return err
			}
			w.State, w.Finished = protocol.WriteWritten, now.UTC()
		default:
			return fmt.Errorf("ledger: card write report: outcome %d: %w", r.Outcome, ErrMalformed)
		}
		w.Device, w.ReportOperator, changed = r.DeviceID, r.Operator, true
		return putWrite(tx, &w)
	})
	if err != nil {
		return CardWrite{}, err
	}
	if changed {
		l.log.Info("card write reported", "write", w.WriteID(), "card", w.Card, "account", w.Account, "field", w.Field.String(),
			"trade", w.Trade.String(), "outcome", r.Outcome.String(), "state", w.State.String(), "device", r.DeviceID,
			"operator", r.Operator, "applied_status_version", w.Applied, "note", w.Note)
	}
	return w, nil
}

// applyWriteTx makes the account say what the card now says. A write
// whose card is no longer the account's, or (status writes) whose account
// is no longer in the state the write was made for, is recorded written
// and changes nothing more (Note).
func (l *Ledger) applyWriteTx(tx *bolt.Tx, w *CardWrite, now time.Time) error {
	a, err := getAccount(tx, w.Account)
	if err != nil {
		return err
	}
	if a.Card != w.Card {
		w.Note = "the card was replaced since: not applied"
		return nil
	}
	switch w.Field {
	case protocol.FieldPIN, protocol.FieldPINReload:
		a.PVV, a.PINTries = w.PVV, 0
	case protocol.FieldTxLimit:
		a.TxLimit = w.Values.TxLimit
	case protocol.FieldValidUntil:
		a.ValidUntil = w.Values.ValidUntil
		end, err := accounts.ParseDate(a.ValidUntil)
		if err != nil {
			return err
		}
		if y, m, d := now.Date(); a.State == accounts.Expired && !time.Date(y, m, d, 0, 0, 0, 0, time.UTC).After(end) {
			a.State = accounts.Normal
		}
	case protocol.FieldStatus:
		if w.From == "" { // close-account: the ledger changed the account at the trade
			return nil
		}
		if a.State != w.From {
			w.Note = fmt.Sprintf("the account is %s since, not %s: not applied", a.State, w.From)
			return nil
		}
		a.State, a.Prior = w.To, ""
		if tx.Bucket(bucketStatus).Get(statusKey(w.Card)) != nil {
			if w.Applied, err = l.changeStatusTx(tx, []protocol.StatusEntry{{CardNo: w.Card, Reason: ReasonRemoved}}); err != nil {
				return err
			}
		}
	}
	return putAccount(tx, &a, now)
}
