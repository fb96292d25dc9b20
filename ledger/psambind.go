package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// How a device's PSAM terminal id came to be bound to it
// (PSAMBinding.How).
const (
	BoundAtEnrolment = "enrolment"    // the enrolment request carried it
	BoundOnFirstUse  = "first-record" // trust on first use: the first record carrying one (a device enrolled before the binding, or without a PSAM then)
	BoundByRebind    = "rebind"       // an operator's ledgerd device rebind
)

// maxAlertedTerminals bounds the distinct terminal ids a device is
// alerted for between two rebinds (each raises one psam-mismatch alert);
// beyond it they are counted (Mismatches) without an alert of their own.
const maxAlertedTerminals = 16

// PSAMBinding is the binding of a device to its PSAM (issue 16): the
// regulation forbids moving or lending certified devices without
// authorisation, and the PSAM's terminal id is in every purchase and load
// record. The ledger binds the id to the device at enrolment; a record (or
// a load) carrying another id, or an enrolment with an id bound to another
// live device, holds the device: it gets no money from the ledger (status
// list, rules, pending loads, load authorisations, claims, transfers are
// answered psam-binding) and learns it from every Ack, until an operator
// re-binds it (Ledger.Rebind). Its journal is still taken, exactly once.
type PSAMBinding struct {
	// Terminal is the bound PSAM terminal id (protocol.TerminalIDSize
	// bytes); nil when none is bound.
	Terminal []byte `json:"terminal_id,omitempty"`
	// How says how it was bound (BoundAtEnrolment, BoundOnFirstUse,
	// BoundByRebind), Since when; Epoch and Seq name the record that
	// bound it on first use.
	How   string    `json:"how,omitempty"`
	Since time.Time `json:"since,omitzero"`
	Epoch uint64    `json:"epoch,omitempty"`
	Seq   uint64    `json:"seq,omitempty"`
	// Lost is when a rebind moved the device's binding to LostTo: from
	// then on a terminal id is never bound to it on first use again.
	Lost   time.Time `json:"lost,omitzero"`
	LostTo string    `json:"lost_to,omitempty"`
	// Held is when the ledger began to hold the device (zero: not held),
	// for HeldReason (AlertPSAMMoved or AlertPSAMMismatch), alert
	// HeldAlert.
	Held       time.Time `json:"held,omitzero"`
	HeldReason string    `json:"held_reason,omitempty"`
	HeldAlert  uint64    `json:"held_alert,omitempty"`
	// Seen is the last terminal id that was not the bound one: what a
	// rebind binds when the operator names none.
	Seen []byte `json:"seen_terminal_id,omitempty"`
	// Alerted are the distinct terminal ids a psam-mismatch alert was
	// raised for since the last rebind (at most maxAlertedTerminals).
	Alerted [][]byte `json:"alerted_terminal_ids,omitempty"`
	// Mismatches counts the records and load requests that carried a
	// terminal id other than the bound one.
	Mismatches uint64 `json:"mismatches,omitempty"`
}

// HeldCode is the hold the ledger answers the device with:
// protocol.CodePSAMBinding while it holds it, 0 when it does not.
func (d *Device) HeldCode() protocol.Code {
	if d.PSAM.Held.IsZero() {
		return 0
	}
	return protocol.CodePSAMBinding
}

// TerminalHex formats a terminal id ("-" for none).
func TerminalHex(tid []byte) string {
	if len(tid) == 0 {
		return "-"
	}
	return hex.EncodeToString(tid)
}

// ParseTerminal parses a terminal id of protocol.TerminalIDSize bytes in
// hex ("010203040506").
func ParseTerminal(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != protocol.TerminalIDSize {
		return nil, fmt.Errorf("ledger: terminal id %q: want %d bytes in hex: %w", s, protocol.TerminalIDSize, ErrInvalid)
	}
	return b, nil
}

// boundElsewhere returns the live (enrolled, not revoked) device other
// than self whose binding is tid, or "".
func boundElsewhere(tx *bolt.Tx, tid []byte, self string) (string, error) {
	var other string
	err := tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
		if other != "" || string(k) == self {
			return nil
		}
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("ledger: device %q: %w: %w", k, ErrCorrupt, err)
		}
		if d.Active() && bytes.Equal(d.PSAM.Terminal, tid) {
			other = d.ID
		}
		return nil
	})
	return other, err
}

// sighting is where a terminal id was seen: an enrolment, a record of
// (epoch, seq), a load request.
type sighting struct {
	what  string // "enrolment", "record", "load request"
	epoch uint64
	seq   uint64
}

// seeTerminal checks the terminal id tid a device d presents (at
// enrolment, in a record, in a load request) against its binding, in tx:
// the bound id is fine; with none bound and the device neither held nor
// stripped of a binding, tid is bound (at enrolment, or on first use) if
// no other live device has it; otherwise the device is held and an alert
// recorded (psam-moved when another live device has tid bound, else
// psam-mismatch, once per distinct tid). It reports whether d changed.
func (l *Ledger) seeTerminal(tx *bolt.Tx, d *Device, tid []byte, at sighting, now time.Time) (bool, error) {
	b := &d.PSAM
	if len(tid) == 0 || bytes.Equal(b.Terminal, tid) {
		return false, nil
	}
	if b.Terminal == nil && b.Held.IsZero() && b.Lost.IsZero() {
		other, err := boundElsewhere(tx, tid, d.ID)
		if err != nil {
			return false, err
		}
		if other == "" {
			b.Terminal, b.Since, b.How = bytes.Clone(tid), now, BoundAtEnrolment
			if at.what != "enrolment" {
				b.How, b.Epoch, b.Seq = BoundOnFirstUse, at.epoch, at.seq
			}
			l.log.Info("PSAM bound to the device", "device", d.ID, "terminal_id", TerminalHex(tid), "how", b.How, "seq", at.seq)
			return true, nil
		}
		n, err := putAlert(tx, Alert{Kind: AlertPSAMMoved, Device: d.ID, Epoch: at.epoch, Seq: at.seq, TerminalID: bytes.Clone(tid), OtherDevice: other, Time: now,
			Reason: "the PSAM of this " + at.what + " is bound to another live device: moved or lent without authorisation? The device takes no money until `ledgerd device rebind " + d.ID + "`"})
		if err != nil {
			return false, err
		}
		l.hold(d, AlertPSAMMoved, n, tid, now)
		l.log.Error("PSAM MOVED: its terminal id is bound to another device; this one is held", "device", d.ID, "terminal_id", TerminalHex(tid),
			"bound_to", other, "alert", n)
		return true, nil
	}
	b.Mismatches++
	b.Seen = bytes.Clone(tid)
	alerted := false
	for _, a := range b.Alerted {
		alerted = alerted || bytes.Equal(a, tid)
	}
	var n uint64
	if !alerted && len(b.Alerted) < maxAlertedTerminals {
		var err error
		n, err = putAlert(tx, Alert{Kind: AlertPSAMMismatch, Device: d.ID, Epoch: at.epoch, Seq: at.seq, TerminalID: bytes.Clone(tid),
			BoundTerminalID: bytes.Clone(b.Terminal), Time: now,
			Reason: "a " + at.what + " carries a PSAM terminal id not bound to the device (a PSAM swapped in, or its binding moved); the device takes no money until `ledgerd device rebind " + d.ID + "`"})
		if err != nil {
			return false, err
		}
		b.Alerted = append(b.Alerted, bytes.Clone(tid))
		l.log.Error("PSAM MISMATCH: a terminal id not bound to the device; it is held", "device", d.ID, "terminal_id", TerminalHex(tid),
			"bound", TerminalHex(b.Terminal), "seq", at.seq, "alert", n)
	}
	l.hold(d, AlertPSAMMismatch, n, tid, now)
	return true, nil
}

// hold holds d for reason (alert n), unless it is held already.
func (l *Ledger) hold(d *Device, reason string, n uint64, tid []byte, now time.Time) {
	b := &d.PSAM
	b.Seen = bytes.Clone(tid)
	if !b.Held.IsZero() {
		return
	}
	b.Held, b.HeldReason, b.HeldAlert = now, reason, n
}

// bindRecord checks the terminal id of a new record r of epoch v
// (seeTerminal) while a batch is taken. A psam-held record in which the
// device reports a swapped PSAM holds it whatever the binding here says
// (an alert each): only a rebind lets the device take money again with the
// PSAM it has.
func (l *Ledger) bindRecord(tx *bolt.Tx, d *Device, v view, r *protocol.Record, now time.Time) error {
	if r.Kind == protocol.KindPSAMHeld && r.Reason == protocol.ReasonPSAMSwapped {
		n, err := putAlert(tx, Alert{Kind: AlertPSAMMismatch, Device: d.ID, Epoch: v.epoch, Seq: r.Seq, TerminalID: bytes.Clone(r.TerminalID),
			BoundTerminalID: bytes.Clone(d.PSAM.Terminal), Time: now,
			Reason: "the device reports that the PSAM in it is not the one it was bound with (psam-held, psam-swapped); it takes no money until `ledgerd device rebind " + d.ID + "`"})
		if err != nil {
			return err
		}
		d.PSAM.Mismatches++
		l.hold(d, AlertPSAMMismatch, n, r.TerminalID, now)
		l.log.Error("PSAM SWAPPED, the device reports: it is held", "device", d.ID, "terminal_id", TerminalHex(r.TerminalID),
			"bound", TerminalHex(d.PSAM.Terminal), "seq", r.Seq, "alert", n)
		return nil
	}
	if r.TerminalID == nil {
		return nil
	}
	_, err := l.seeTerminal(tx, d, r.TerminalID, sighting{what: "record", epoch: v.epoch, seq: r.Seq}, now)
	return err
}

// heldError is the answer to a held device's request for money or for
// what it needs to take money.
func heldError(d *Device) error {
	return protocol.Errorf(protocol.CodePSAMBinding, "device %s is held since %s (%s): its PSAM is not bound to it; an operator re-binds it (ledgerd device rebind)",
		d.ID, d.PSAM.Held.Format(time.RFC3339), d.PSAM.HeldReason)
}

// servedKeys is the KeySet of the endpoints that give a device money or
// what it takes money on (status, rules, pending, claims, transfers): an
// active device that the ledger does not hold (deviceKeys and a hold
// check). A held device is answered psam-binding: that is how it learns
// of the hold, and of its end, without a record to upload.
type servedKeys struct{ l *Ledger }

// PublicKey returns the key of an active device not held (see
// deviceKeys for the other errors).
func (k servedKeys) PublicKey(kid string) (protocol.PublicKey, error) {
	pk, err := k.l.enrolledKey(kid, false)
	if err != nil {
		return pk, err
	}
	d, err := k.l.Device(kid)
	if err != nil {
		return protocol.PublicKey{}, protocol.Errorf(protocol.CodeInternal, "device registry: %w", err)
	}
	if !d.PSAM.Held.IsZero() {
		return protocol.PublicKey{}, heldError(&d)
	}
	return pk, nil
}

// CheckLoadTerminal checks the PSAM terminal id of device id's load
// request (LoadInit) before the ledger authorises the load: a held device
// gets psam-binding (and nothing else happens), and so does one whose
// request carries a terminal id other than its bound one (which holds it,
// with an alert, like a record would). With none bound the id is bound on
// first use.
func (l *Ledger) CheckLoadTerminal(id string, tid []byte) error {
	now := l.now().UTC()
	var held *Device
	err := l.db.Update(func(tx *bolt.Tx) error {
		held = nil
		d, err := getDevice(tx, id)
		if err != nil {
			return fmt.Errorf("ledger: load: device %q: %w", id, ErrUnknownDevice)
		}
		if !d.PSAM.Held.IsZero() { // refused as held: the request moved no money, no alert of its own
			held = &d
			return nil
		}
		changed, err := l.seeTerminal(tx, &d, tid, sighting{what: "load request"}, now)
		if err != nil {
			return err
		}
		if changed {
			if err := putDevice(tx, d); err != nil {
				return err
			}
		}
		if !d.PSAM.Held.IsZero() {
			held = &d
		}
		return nil
	})
	if err != nil {
		return err
	}
	if held != nil {
		return heldError(held)
	}
	return nil
}

// Rebind is the operator's authorisation of a device's PSAM (ledgerd
// device rebind): it binds terminal (protocol.TerminalIDSize bytes; nil:
// the terminal id last seen that did not match, PSAMBinding.Seen) to
// device id and lifts its hold; every other device that had that id bound
// loses its binding (it is held if it then presents it). An alert
// psam-rebound records it. A revoked device stays revoked (ErrRevoked), a
// device never enrolled or with no terminal id to bind gets ErrInvalid.
func (l *Ledger) Rebind(id string, terminal []byte) (Device, error) {
	if terminal != nil && len(terminal) != protocol.TerminalIDSize {
		return Device{}, fmt.Errorf("ledger: rebind %s: terminal id of %d bytes, want %d: %w", id, len(terminal), protocol.TerminalIDSize, ErrInvalid)
	}
	now := l.now().UTC()
	var out Device
	var others []string
	var n uint64
	err := l.db.Update(func(tx *bolt.Tx) error {
		others = nil
		d, err := getDevice(tx, id)
		switch {
		case err != nil:
			return fmt.Errorf("ledger: rebind %s: %w", id, err)
		case !d.Revoked.IsZero():
			return fmt.Errorf("ledger: rebind %s: %w", id, ErrRevoked)
		case d.PublicKey == nil:
			return fmt.Errorf("ledger: rebind %s: not enrolled: %w", id, ErrInvalid)
		}
		tid := terminal
		if tid == nil {
			tid = d.PSAM.Seen
		}
		if tid == nil {
			return fmt.Errorf("ledger: rebind %s: no terminal id seen to bind; name it (--terminal HEX): %w", id, ErrInvalid)
		}
		if err := tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			if string(k) == id {
				return nil
			}
			var o Device
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("ledger: device %q: %w: %w", k, ErrCorrupt, err)
			}
			if bytes.Equal(o.PSAM.Terminal, tid) {
				others = append(others, o.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, oid := range others {
			o, err := getDevice(tx, oid)
			if err != nil {
				return err
			}
			o.PSAM.Terminal, o.PSAM.How, o.PSAM.Since, o.PSAM.Epoch, o.PSAM.Seq = nil, "", time.Time{}, 0, 0
			o.PSAM.Lost, o.PSAM.LostTo = now, id
			if err := putDevice(tx, o); err != nil {
				return err
			}
		}
		prev := d.PSAM
		n, err = putAlert(tx, Alert{Kind: AlertPSAMRebound, Device: id, TerminalID: bytes.Clone(tid), BoundTerminalID: bytes.Clone(prev.Terminal),
			OtherDevice: joinIDs(others), Time: now, Reason: rebindReason(prev, others)})
		if err != nil {
			return err
		}
		d.PSAM = PSAMBinding{Terminal: bytes.Clone(tid), How: BoundByRebind, Since: now, Mismatches: prev.Mismatches}
		if err := putDevice(tx, d); err != nil {
			return err
		}
		out = d
		return nil
	})
	if err != nil {
		return Device{}, err
	}
	l.log.Warn("PSAM re-bound by the operator: the device takes money again", "device", id, "terminal_id", TerminalHex(out.PSAM.Terminal),
		"unbound_from", joinIDs(others), "alert", n)
	return out, nil
}

func rebindReason(prev PSAMBinding, others []string) string {
	s := "the operator bound the PSAM to the device"
	if !prev.Held.IsZero() {
		s += " and lifted its hold (" + prev.HeldReason + ")"
	}
	if len(others) > 0 {
		s += "; " + joinIDs(others) + " lost the binding"
	}
	return s
}

func joinIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(id)
	}
	return b.String()
}
