package ledger

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Alert kinds: what an operator must look at. Every alert is kept (bucket
// alerts, numbered from 1) and shown by Report and `ledgerd report`.
const (
	// AlertFork: a device offered bytes under a sequence the ledger already
	// held with different bytes. The batch was refused; nothing was
	// overwritten (Seq, BatchNo, HeldHash, OfferedRaw). Alerts stored before
	// alerts had kinds are forks.
	AlertFork = "fork"
	// AlertRebind: an enrolment with a token that is no rekey token
	// offered another key than the enrolled one; it was refused and the
	// enrolled key stays (Key is the fingerprint of the key offered).
	AlertRebind = "rebind-refused"
	// AlertPSAMMoved: a device presented (at enrolment, or on first use)
	// a PSAM terminal id bound to another live device (OtherDevice): the
	// PSAM was moved or lent. The device is held (TerminalID, Seq of the
	// record when it was one).
	AlertPSAMMoved = "psam-moved"
	// AlertPSAMMismatch: a record (Seq), a load request or an enrolment of
	// a device carried a PSAM terminal id (TerminalID) other than the one
	// bound to it (BoundTerminalID; none when its binding moved away):
	// the device is held. Raised once per distinct id between rebinds.
	AlertPSAMMismatch = "psam-mismatch"
	// AlertPSAMRebound: the operator bound a PSAM terminal id to the
	// device (ledgerd device rebind) and lifted its hold; BoundTerminalID
	// is the id bound before, OtherDevice the devices that lost it.
	AlertPSAMRebound = "psam-rebound"
	// AlertSiteMoved: an enrolment said the device is at another site
	// (Site) than the one it is bound to (BoundSite) with a token that
	// does not authorise the move; refused, the binding stays.
	AlertSiteMoved = "site-moved"
)

// Alert is one event an operator must look at; Kind says which (the
// Alert* constants) and which fields are set.
type Alert struct {
	N      uint64 `json:"n"`
	Kind   string `json:"kind"`
	Device string `json:"device"`
	// Epoch is the device's journal epoch the alert is about.
	Epoch   uint64 `json:"epoch,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	BatchNo uint64 `json:"batch_no,omitempty"`
	// Reason says in English what was wrong.
	Reason string `json:"reason,omitempty"`
	// CardNo, Amount and IntentID: the card, amount (fen) and sale a
	// money record named.
	CardNo   string `json:"card_no,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	IntentID uint64 `json:"intent_id,omitempty"`
	// HighWater and Stranded: a closed epoch's last record held and its
	// purchase intents left open or uncertain (AlertEpochClosed).
	HighWater uint64   `json:"high_water,omitempty"`
	Stranded  []uint64 `json:"stranded_intents,omitempty"`
	// Key is the protocol.Fingerprint of a key refused (AlertRebind).
	Key string `json:"key,omitempty"`
	// TerminalID, BoundTerminalID and OtherDevice: the PSAM terminal id
	// presented, the one bound to the device and the other device
	// involved (AlertPSAMMoved, AlertPSAMMismatch, AlertPSAMRebound).
	TerminalID      []byte `json:"terminal_id,omitempty"`
	BoundTerminalID []byte `json:"bound_terminal_id,omitempty"`
	OtherDevice     string `json:"other_device,omitempty"`
	// Site and BoundSite: the site an enrolment named and the one the
	// device is bound to (AlertSiteMoved).
	Site      string `json:"site,omitempty"`
	BoundSite string `json:"bound_site,omitempty"`
	// HeldHash and OfferedRaw: a fork's held record hash and the refused
	// record bytes, as evidence.
	HeldHash   []byte    `json:"held_hash,omitempty"`
	OfferedRaw []byte    `json:"offered_raw,omitempty"`
	Time       time.Time `json:"time"`
}

// String is the alert on one line, as `ledgerd report` prints it.
func (a Alert) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ALERT %d %s: device %s", a.N, a.Kind, a.Device)
	if a.Epoch > 0 {
		fmt.Fprintf(&b, " epoch %d", a.Epoch)
	}
	if a.Seq > 0 {
		fmt.Fprintf(&b, " seq %d", a.Seq)
	}
	if a.BatchNo > 0 {
		fmt.Fprintf(&b, " batch %d", a.BatchNo)
	}
	if a.CardNo != "" || a.Amount != 0 {
		fmt.Fprintf(&b, " card %s amount %s", a.CardNo, Yuan(a.Amount))
	}
	if a.IntentID > 0 {
		fmt.Fprintf(&b, " intent %d", a.IntentID)
	}
	if len(a.Stranded) > 0 {
		fmt.Fprintf(&b, " stranded intents %v", a.Stranded)
	}
	if a.Key != "" {
		fmt.Fprintf(&b, " key %s", a.Key)
	}
	if a.TerminalID != nil {
		fmt.Fprintf(&b, " terminal %s", hex.EncodeToString(a.TerminalID))
	}
	if a.Kind == AlertPSAMMismatch || a.Kind == AlertPSAMRebound {
		fmt.Fprintf(&b, " bound %s", TerminalHex(a.BoundTerminalID))
	}
	if a.OtherDevice != "" {
		fmt.Fprintf(&b, " other device %s", a.OtherDevice)
	}
	if a.HeldHash != nil {
		fmt.Fprintf(&b, " held %s", hex.EncodeToString(a.HeldHash[:min(8, len(a.HeldHash))]))
	}
	if a.Reason != "" {
		fmt.Fprintf(&b, ": %s", a.Reason)
	}
	fmt.Fprintf(&b, " (%s)", a.Time.Format(time.RFC3339))
	return b.String()
}

// putAlert numbers a and stores it in tx; it returns the number.
func putAlert(tx *bolt.Tx, a Alert) (uint64, error) {
	n, err := nextSeq(tx, keyAlertSeq)
	if err != nil {
		return 0, err
	}
	a.N = n
	return n, putJSON(tx.Bucket(bucketAlerts), be64(n), a)
}

// Alerts returns every alert, oldest first.
func (l *Ledger) Alerts() ([]Alert, error) {
	var out []Alert
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAlerts).ForEach(func(_, v []byte) error {
			var a Alert
			if err := getJSONBytes(v, &a); err != nil {
				return err
			}
			if a.Kind == "" {
				a.Kind = AlertFork
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// Yuan formats an amount in fen as yuan with two decimals ("-0.05", "12.50").
func Yuan(fen int64) string {
	sign, u := "", uint64(fen)
	if fen < 0 {
		sign, u = "-", uint64(-fen)
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}
