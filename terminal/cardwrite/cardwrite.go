// Package cardwrite does the card writes of the holder's services (issue
// 15, docs/architecture.md §4.1.1): the ledger hands out a pending write
// (protocol.CardWrite: a per-transaction limit, the status of a 解挂, a
// validity end), the device writes it on the card under secure messaging
// with a MAC from the ledger's key service, and reports what the card
// holds afterwards. The ledger applies the change only when the report
// says written with the card's read-back, so it never believes a card
// says what it does not.
//
// Each write is a durable intent in the device's store before the card
// is touched (Store.Open); a write torn by a pulled card is checked (READ
// BINARY) and completed — 补写 — the next time the card is seen at any
// kiosk, desk or POS (Engine.Complete: the ledger's pending writes of the
// card), and a report the ledger did not answer is sent again (Report).
// Writing the same value twice is harmless: every field is whole within
// one UPDATE BINARY, old or new.
//
// The kiosk (terminal/kiosk) and a POS use it; it imports no flow.
package cardwrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
)

// Ledger is the ledger's side of card writes; *syncclient.Client
// implements it.
type Ledger interface {
	PendingWrites(ctx context.Context, cardNo, operator string) ([]protocol.CardWrite, error)
	ReportWrite(ctx context.Context, m protocol.CardWriteReport) (protocol.CardWriteAck, error)
	WriteMAC(ctx context.Context, m protocol.CardWriteMACRequest) ([4]byte, bool, error)
}

// Intent is one card write as the device keeps it: the ledger's write,
// the commands it takes on this card, and what became of it.
type Intent struct {
	Write    protocol.CardWrite
	Operator string // the desk's operator, "" elsewhere
	// Commands are the UPDATE BINARYs of the write on this card, in order;
	// Unblock: APPLICATION UNBLOCK comes first (a 解挂 of a card whose
	// application a terminal blocked).
	Commands []epurse.BinaryWrite
	Unblock  bool
	// Outcome is 0 while the write is open, else what the card did; Echo
	// the card's read-back of a written one.
	Outcome protocol.WriteOutcome
	Echo    protocol.CardValues
}

// Store keeps the intents durable (the offline store; see StoreAdapter).
type Store interface {
	// Open records the intent before the card is touched; the same write
	// id again is not an error (a write completed again).
	Open(in Intent) error
	// Settle records the outcome (and journals it).
	Settle(writeID string, o protocol.WriteOutcome, echo protocol.CardValues) error
	// ToReport lists the settled intents the ledger has not acknowledged.
	ToReport() ([]Intent, error)
	// Reported marks the report of outcome o acknowledged by the ledger.
	Reported(writeID string, o protocol.WriteOutcome) error
}

// Options configure an Engine. Store and Ledger are required.
type Options struct {
	Store  Store
	Ledger Ledger
	// LedgerTimeout bounds each call to the ledger (default 5 s).
	LedgerTimeout time.Duration
	Logger        *slog.Logger
}

// Engine does card writes.
type Engine struct {
	store   Store
	ledger  Ledger
	timeout time.Duration
	log     *slog.Logger
}

// New returns an Engine.
func New(o Options) (*Engine, error) {
	if o.Store == nil || o.Ledger == nil {
		return nil, errors.New("cardwrite: new: store and ledger are required")
	}
	e := &Engine{store: o.Store, ledger: o.Ledger, timeout: o.LedgerTimeout, log: o.Logger}
	if e.timeout <= 0 {
		e.timeout = 5 * time.Second
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

// Card is the selected card as a write needs it: the card, its keys'
// reference (epurse.ReadCardRef), its file 0x15 and its campus data (file
// 0x12; zero when the card has none: a tx-limit write then keeps no daily
// limit).
type Card struct {
	Card    reader.Card
	Ref     epurse.CardRef
	Public  epurse.PublicData
	Campus  epurse.CampusData
	Blocked bool // SELECT answered 6A81: a terminal blocked the application
}

// ErrNotWritable: the write is not one this engine does on a card (a PIN
// change needs the holder's PINs, a PIN reset the desk's keypad).
var ErrNotWritable = errors.New("cardwrite: not a write of the card's data")

// Plan returns the commands of w on card c (docs/architecture.md §4.1.1):
// tx-limit → file 0x12 offset 1 (the limit and the daily limit the card
// holds); status → file 0x12 offset 9 (the status-list version), then the
// status byte of file 0x15 when it differs (and APPLICATION UNBLOCK first
// when the application is blocked and the status becomes normal);
// valid-until → file 0x15 offset 24.
func Plan(w protocol.CardWrite, c Card) (cmds []epurse.BinaryWrite, unblock bool, err error) {
	switch w.Field {
	case protocol.FieldTxLimit:
		if w.TxLimit < 0 || w.TxLimit > protocol.MaxTxLimit {
			return nil, false, fmt.Errorf("cardwrite: %s: limit %d", w.WriteID, w.TxLimit)
		}
		return []epurse.BinaryWrite{epurse.LimitsWrite(uint32(w.TxLimit), c.Campus.DailyLimit)}, false, nil
	case protocol.FieldStatus:
		cmds = []epurse.BinaryWrite{epurse.ListVersionWrite(w.StatusVersion)}
		if c.Public.Status != w.CardStatus {
			cmds = append(cmds, epurse.CardStatusWrite(w.CardStatus))
		}
		return cmds, c.Blocked && w.CardStatus == epurse.CardStatusNormal, nil
	case protocol.FieldValidUntil:
		var end [4]byte
		if len(w.ValidUntil) != 8 {
			return nil, false, fmt.Errorf("cardwrite: %s: validity end %q", w.WriteID, w.ValidUntil)
		}
		for i := range end {
			end[i] = (w.ValidUntil[2*i]-'0')<<4 | (w.ValidUntil[2*i+1] - '0')
		}
		ew, err := epurse.ExpiryWrite(end)
		if err != nil {
			return nil, false, fmt.Errorf("cardwrite: %s: %w", w.WriteID, err)
		}
		return []epurse.BinaryWrite{ew}, false, nil
	}
	return nil, false, fmt.Errorf("%w: %s is a %s write", ErrNotWritable, w.WriteID, w.Field)
}

// Result is what became of one write.
type Result struct {
	WriteID string
	Field   protocol.WriteField
	Outcome protocol.WriteOutcome
	// Acked: the ledger took the report (false: Report sends it later).
	Acked bool
	// State is the ledger's state of the write after the report.
	State protocol.WriteState
	Err   error
}

// macs is the ledger's key service as epurse's MAC sources, for one write.
type macs struct {
	e   *Engine
	w   protocol.CardWrite
	op  string
	err error
}

func (m *macs) ask(ctx context.Context, ref epurse.CardRef, challenge [4]byte, cmd []byte) ([4]byte, error) {
	lctx, cancel := context.WithTimeout(ctx, m.e.timeout)
	defer cancel()
	mac, ok, err := m.e.ledger.WriteMAC(lctx, protocol.CardWriteMACRequest{WriteID: m.w.WriteID, CardNo: m.w.CardNo,
		CardSerial: ref.Serial[:], KeyVersion: ref.KeyVersion, Algorithm: uint8(ref.Algorithm), Challenge: challenge[:],
		Command: cmd, Operator: m.op})
	if err == nil && !ok {
		err = errors.New("cardwrite: the ledger has no key service for card writes")
	}
	if err != nil {
		m.err = err
		return [4]byte{}, err
	}
	return mac, nil
}

// UpdateMAC asks the MAC of an UPDATE BINARY.
func (m *macs) UpdateMAC(ctx context.Context, ref epurse.CardRef, challenge [4]byte, header [5]byte, data []byte) ([4]byte, error) {
	return m.ask(ctx, ref, challenge, append(header[:], data...))
}

// PINReloadMAC asks the MAC of PIN RELOAD (over the PIN block, no
// challenge: zeros stand in).
func (m *macs) PINReloadMAC(ctx context.Context, ref epurse.CardRef, pin []byte) ([4]byte, error) {
	cmd := append([]byte{0x80, epurse.InsPINChange, 0x00, 0x00, byte(len(pin) + 4)}, pin...)
	return m.ask(ctx, ref, [4]byte{}, cmd)
}

// UnblockMAC asks the MAC of APPLICATION UNBLOCK.
func (m *macs) UnblockMAC(ctx context.Context, ref epurse.CardRef, challenge [4]byte, header [5]byte) ([4]byte, error) {
	return m.ask(ctx, ref, challenge, header[:])
}

// Apply writes w on card c: the intent made durable, the commands sent
// (an answer lost is checked with READ BINARY and the command sent again
// once), the card read back, the outcome settled and reported. A card
// that left mid-write is torn-unknown: the write stays pending at the
// ledger and completes at the card's next tap anywhere.
func (e *Engine) Apply(ctx context.Context, c Card, w protocol.CardWrite, operator string) Result {
	res := Result{WriteID: w.WriteID, Field: w.Field}
	cmds, unblock, err := Plan(w, c)
	if err != nil {
		res.Err = err
		return res
	}
	if err := e.store.Open(Intent{Write: w, Operator: operator, Commands: cmds, Unblock: unblock}); err != nil {
		res.Err = fmt.Errorf("cardwrite: %s: intent: %w", w.WriteID, err)
		return res
	}
	m := &macs{e: e, w: w, op: operator}
	outcome, err := e.write(ctx, c, m, cmds, unblock)
	var echo protocol.CardValues
	if outcome == protocol.OutcomeWritten {
		if echo, err = readBack(ctx, c.Card, w.Field); err != nil {
			outcome = protocol.OutcomeTornUnknown
		}
	}
	if outcome == protocol.OutcomeFailed && m.err != nil {
		// The ledger gave no MAC (unreachable, refused): nothing reached
		// the card; the write stays pending, not failed.
		outcome = protocol.OutcomeTornUnknown
	}
	res.Outcome, res.Err = outcome, err
	if err := e.store.Settle(w.WriteID, outcome, echo); err != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("cardwrite: %s: settle: %w", w.WriteID, err))
		return res
	}
	e.log.Info("card write", "write", w.WriteID, "card", w.CardNo, "field", w.Field.String(), "outcome", outcome.String(), "err", err)
	ack, rerr := e.report(ctx, w, operator, outcome, echo)
	if rerr == nil {
		res.Acked, res.State = true, ack.State
	} else if res.Err == nil {
		res.Err = rerr
	}
	return res
}

// write sends the commands; it returns the card's outcome.
func (e *Engine) write(ctx context.Context, c Card, m *macs, cmds []epurse.BinaryWrite, unblock bool) (protocol.WriteOutcome, error) {
	if unblock {
		o := epurse.UnblockApplication(ctx, c.Card, m, c.Ref)
		switch o.Kind {
		case epurse.Done:
		case epurse.Refused:
			if !o.Sent {
				return protocol.OutcomeTornUnknown, o.Err
			}
			return protocol.OutcomeFailed, o.Err
		default: // unblocking an unblocked application answers 9000: send it again
			if o2 := epurse.UnblockApplication(ctx, c.Card, m, c.Ref); o2.Kind != epurse.Done {
				return protocol.OutcomeTornUnknown, errors.Join(o.Err, o2.Err)
			}
		}
	}
	for _, bw := range cmds {
		o := epurse.UpdateBinary(ctx, c.Card, m, c.Ref, bw)
		if o.Kind == epurse.Uncertain {
			switch chk := epurse.CheckWrite(ctx, c.Card, bw); chk.Kind {
			case epurse.Done:
				o = chk
			case epurse.Void:
				o = epurse.UpdateBinary(ctx, c.Card, m, c.Ref, bw)
			default:
				return protocol.OutcomeTornUnknown, errors.Join(o.Err, chk.Err)
			}
		}
		switch o.Kind {
		case epurse.Done:
		case epurse.Refused:
			if !o.Sent && epurse.Transient(o.Err) {
				return protocol.OutcomeTornUnknown, o.Err
			}
			return protocol.OutcomeFailed, o.Err
		default:
			return protocol.OutcomeTornUnknown, o.Err
		}
	}
	return protocol.OutcomeWritten, nil
}

// readBack reads what the card holds of field f.
func readBack(ctx context.Context, card reader.Card, f protocol.WriteField) (protocol.CardValues, error) {
	var v protocol.CardValues
	switch f {
	case protocol.FieldTxLimit:
		cd, err := epurse.ReadCampusData(ctx, card)
		if err != nil {
			return v, fmt.Errorf("cardwrite: read back: %w", err)
		}
		v.TxLimit = int64(cd.TxnLimit)
	case protocol.FieldStatus:
		cd, err := epurse.ReadCampusData(ctx, card)
		if err != nil {
			return v, fmt.Errorf("cardwrite: read back: %w", err)
		}
		pub, err := epurse.ReadPublicData(ctx, card)
		if err != nil {
			return v, fmt.Errorf("cardwrite: read back: %w", err)
		}
		v.StatusVersion, v.CardStatus = cd.StatusListVersion, pub.Status
	case protocol.FieldValidUntil:
		pub, err := epurse.ReadPublicData(ctx, card)
		if err != nil {
			return v, fmt.Errorf("cardwrite: read back: %w", err)
		}
		v.ValidUntil = fmt.Sprintf("%X", pub.End[:])
	}
	return v, nil
}

// report tells the ledger; on success the intent is marked reported.
func (e *Engine) report(ctx context.Context, w protocol.CardWrite, operator string, o protocol.WriteOutcome, echo protocol.CardValues) (protocol.CardWriteAck, error) {
	lctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	ack, err := e.ledger.ReportWrite(lctx, protocol.CardWriteReport{WriteID: w.WriteID, CardNo: w.CardNo, Outcome: o, Operator: operator,
		TxLimit: echo.TxLimit, CardStatus: echo.CardStatus, StatusVersion: echo.StatusVersion, ValidUntil: echo.ValidUntil})
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && !pe.Code.Retryable() {
			// The ledger decided (a mismatch, a write finished elsewhere):
			// sending it again changes nothing.
			e.log.Warn("card write report refused", "write", w.WriteID, "err", err)
			_ = e.store.Reported(w.WriteID, o)
		}
		return ack, fmt.Errorf("cardwrite: %s: report: %w", w.WriteID, err)
	}
	if err := e.store.Reported(w.WriteID, o); err != nil {
		return ack, fmt.Errorf("cardwrite: %s: mark reported: %w", w.WriteID, err)
	}
	return ack, nil
}

// ApplyPIN is a pin write (修改密码): CHANGE PIN with the holder's old and
// new PIN on the card, the ledger's verification value following when
// reported written. A wrong old PIN is failed (the card counted it: the
// *epurse.PINError is in Result.Err); a card gone mid-command is
// torn-unknown (the ledger keeps the old PIN until a desk completes it).
// The PINs are never kept, logged or reported.
func (e *Engine) ApplyPIN(ctx context.Context, c Card, w protocol.CardWrite, oldPIN, newPIN string) Result {
	res := Result{WriteID: w.WriteID, Field: w.Field}
	if w.Field != protocol.FieldPIN {
		res.Err = fmt.Errorf("%w: %s is a %s write, not a PIN change", ErrNotWritable, w.WriteID, w.Field)
		return res
	}
	if err := e.store.Open(Intent{Write: w}); err != nil {
		res.Err = fmt.Errorf("cardwrite: %s: intent: %w", w.WriteID, err)
		return res
	}
	err := epurse.ChangePIN(ctx, c.Card, oldPIN, newPIN)
	var pe *epurse.PINError
	switch {
	case err == nil:
		res.Outcome = protocol.OutcomeWritten
	case errors.As(err, &pe), errors.Is(err, epurse.ErrLocked), !epurse.Transient(err):
		res.Outcome, res.Err = protocol.OutcomeFailed, err
	default:
		res.Outcome, res.Err = protocol.OutcomeTornUnknown, err
	}
	if serr := e.store.Settle(w.WriteID, res.Outcome, protocol.CardValues{}); serr != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("cardwrite: %s: settle: %w", w.WriteID, serr))
		return res
	}
	e.log.Info("card write", "write", w.WriteID, "card", w.CardNo, "field", w.Field.String(), "outcome", res.Outcome.String())
	ack, rerr := e.report(ctx, w, "", res.Outcome, protocol.CardValues{})
	if rerr == nil {
		res.Acked, res.State = true, ack.State
	} else if res.Err == nil {
		res.Err = rerr
	}
	return res
}

// ApplyPINReload is a pin-reload write (重置密码 at the desk): PIN RELOAD
// of newPIN under the ledger's MAC, which also unblocks a blocked PIN. The
// PIN is never kept or logged; a torn one stays pending (the desk does it
// again).
func (e *Engine) ApplyPINReload(ctx context.Context, c Card, w protocol.CardWrite, newPIN, operator string) Result {
	res := Result{WriteID: w.WriteID, Field: w.Field}
	if w.Field != protocol.FieldPINReload {
		res.Err = fmt.Errorf("%w: %s is a %s write, not a PIN reset", ErrNotWritable, w.WriteID, w.Field)
		return res
	}
	if err := e.store.Open(Intent{Write: w, Operator: operator}); err != nil {
		res.Err = fmt.Errorf("cardwrite: %s: intent: %w", w.WriteID, err)
		return res
	}
	m := &macs{e: e, w: w, op: operator}
	o := epurse.ReloadPIN(ctx, c.Card, m, c.Ref, newPIN)
	switch {
	case o.Kind == epurse.Done:
		res.Outcome = protocol.OutcomeWritten
	case o.Kind == epurse.Refused && o.Sent:
		res.Outcome, res.Err = protocol.OutcomeFailed, o.Err
	default: // not sent (no MAC, the card gone) or the answer lost
		res.Outcome, res.Err = protocol.OutcomeTornUnknown, o.Err
	}
	if serr := e.store.Settle(w.WriteID, res.Outcome, protocol.CardValues{}); serr != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("cardwrite: %s: settle: %w", w.WriteID, serr))
		return res
	}
	e.log.Info("card write", "write", w.WriteID, "card", w.CardNo, "field", w.Field.String(), "outcome", res.Outcome.String(), "operator", operator)
	ack, rerr := e.report(ctx, w, operator, res.Outcome, protocol.CardValues{})
	if rerr == nil {
		res.Acked, res.State = true, ack.State
	} else if res.Err == nil {
		res.Err = rerr
	}
	return res
}

// Complete does the ledger's pending writes of the card (补写): those a
// torn write, another device or the registry (延期) left. Writes this
// engine does not do (PINs) are skipped. A ledger that does not answer
// completes nothing (and is not an error for the tap).
func (e *Engine) Complete(ctx context.Context, c Card, operator string) ([]Result, error) {
	ws, err := e.Pending(ctx, c.Public.CardNumber(), operator)
	if err != nil {
		return nil, err
	}
	return e.CompleteWrites(ctx, c, ws, operator), nil
}

// Pending asks the ledger for the card's pending writes that this engine
// does (not the PIN writes).
func (e *Engine) Pending(ctx context.Context, cardNo, operator string) ([]protocol.CardWrite, error) {
	lctx, cancel := context.WithTimeout(ctx, e.timeout)
	ws, err := e.ledger.PendingWrites(lctx, cardNo, operator)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("cardwrite: pending writes: %w", err)
	}
	out := ws[:0]
	for _, w := range ws {
		if w.State == protocol.WritePending && w.Field != protocol.FieldPIN && w.Field != protocol.FieldPINReload {
			out = append(out, w)
		}
	}
	return out, nil
}

// CompleteWrites does the writes ws (Pending's) on card c, in order; it
// stops at the first torn one (the card left).
func (e *Engine) CompleteWrites(ctx context.Context, c Card, ws []protocol.CardWrite, operator string) []Result {
	var out []Result
	for _, w := range ws {
		if w.State != protocol.WritePending || w.Field == protocol.FieldPIN || w.Field == protocol.FieldPINReload {
			continue
		}
		r := e.Apply(ctx, c, w, operator)
		out = append(out, r)
		if r.Outcome == protocol.OutcomeTornUnknown {
			break // the card left: the others wait for the next tap
		}
		if w.Field == protocol.FieldStatus && r.Outcome == protocol.OutcomeWritten {
			c.Public.Status, c.Blocked = w.CardStatus, false
		}
	}
	return out
}

// Report sends the reports the ledger did not take; it returns how many
// it took.
func (e *Engine) Report(ctx context.Context) (int, error) {
	ins, err := e.store.ToReport()
	if err != nil {
		return 0, fmt.Errorf("cardwrite: reports: %w", err)
	}
	n := 0
	for _, in := range ins {
		if _, err := e.report(ctx, in.Write, in.Operator, in.Outcome, in.Echo); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
