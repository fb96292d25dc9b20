// Package protocol holds the wire types of yktd and their canonical CBOR
// encoding: the journal record that a terminal appends, batches and sends to
// the ledger. It imports no other package of this module.
package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Kind says what a journal record is evidence of.
type Kind uint8

// Record kinds. The numbers are part of the wire format: never renumber.
const (
	KindPurchaseIntent    Kind = 1  // a purchase is about to be sent to the card (written before DEBIT)
	KindPurchaseCompleted Kind = 2  // the card debited: TAC and MAC2 are known
	KindPurchaseVoided    Kind = 3  // the debit did not happen
	KindPurchaseUncertain Kind = 4  // the card went away after DEBIT was sent: outcome unknown
	KindLoad              Kind = 5  // a load (圈存) credited the card
	KindGatePass          Kind = 6  // a gate let a credential pass
	KindGateDenied        Kind = 7  // a gate refused a credential
	KindAlarm             Kind = 8  // door forced or held open, tamper, fire input
	KindConfigApplied     Kind = 9  // a signed configuration (status list, rules, prices) was applied
	KindClockChanged      Kind = 10 // the wall clock jumped: OldTime says from where
	KindPurchaseReversed  Kind = 11 // the cashier cancelled a completed sale: IntentID names it, Amount is owed back to the card (the ledger settles it as a pending load)
	KindGatePassNotTaken  Kind = 12 // a gate granted a pass but nobody passed within the passage window
	KindPurchaseRefused   Kind = 13 // a POS refused a card before any debit: CardNo, Amount asked (when known), Reason the stable refusal code (lost, frozen, expired, insufficient, no-status-list, ...), BalanceBefore when read
	KindDeviceRevoked     Kind = 14 // the ledger answered that this device is revoked: it takes no more money; its journal still uploads for collection
	KindStoreStarted      Kind = 15 // first record of a store started anew over an enrolled identity (yktd run --new-store): Version is the store's epoch
	KindPSAMHeld          Kind = 16 // the device stopped taking money: its PSAM is not bound to it (Reason "ledger": the ledger holds it; "psam-swapped": the PSAM is not the one it enrolled with); TerminalID the PSAM's, when known
	KindPSAMReleased      Kind = 17 // an operator re-bound the device at the ledger: it takes money again; TerminalID the PSAM bound now, when known
	KindCardWrite         Kind = 18 // a card write's outcome at this device (issue 15): CardNo, Ref the write id, Field the field's name, Trade the trade's name, Reason the outcome's name (written, failed, torn-unknown), Operator when a desk did it
	KindService           Kind = 19 // a self-service or desk trade the ledger answered (issue 15): CardNo or Account, Trade the trade's name, Ref the request id in hex, Operator at a desk, Reason the refusal code when refused (empty: done), Amount when the trade moved money
	kindMax                    = KindService
)

// Reasons of a psam-held record (KindPSAMHeld).
const (
	// ReasonPSAMLedger: the ledger holds the device (its answers said so).
	ReasonPSAMLedger = "ledger"
	// ReasonPSAMSwapped: the PSAM in the device (TerminalID) is not the
	// one bound to it. A ledger holds a device that journals it until an
	// operator re-binds it, whatever its own binding says: that rebind is
	// what lets the device take money again with the PSAM it has.
	ReasonPSAMSwapped = "psam-swapped"
)

var kindNames = [...]string{
	KindPurchaseIntent:    "purchase-intent",
	KindPurchaseCompleted: "purchase-completed",
	KindPurchaseVoided:    "purchase-voided",
	KindPurchaseUncertain: "purchase-uncertain",
	KindLoad:              "load",
	KindGatePass:          "gate-pass",
	KindGateDenied:        "gate-denied",
	KindAlarm:             "alarm",
	KindConfigApplied:     "config-applied",
	KindClockChanged:      "clock-changed",
	KindPurchaseReversed:  "purchase-reversed",
	KindGatePassNotTaken:  "gate-pass-not-taken",
	KindPurchaseRefused:   "purchase-refused",
	KindDeviceRevoked:     "device-revoked",
	KindStoreStarted:      "store-started",
	KindPSAMHeld:          "psam-held",
	KindPSAMReleased:      "psam-released",
	KindCardWrite:         "card-write",
	KindService:           "service",
}

// String returns the kind's stable name, used in tools and JSON export.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a kind this version knows.
func (k Kind) Valid() bool { return k >= KindPurchaseIntent && k <= kindMax }

// HashSize is the size of a record hash and of a chain link.
const HashSize = sha256.Size

// MaxRecordSize bounds an encoded record; decoders refuse anything larger.
const MaxRecordSize = 1024

// Record is one journal entry. It is self-contained: a batch of records can
// be checked by anyone holding the device id (sequence, time, kind, link to
// the previous record's hash and the payload are all inside). Amounts are in
// fen. There are no names, ID numbers or PINs, by design.
//
// Payload fields are optional (omitted when zero) and each kind uses the ones
// it needs. A purchase intent carries everything the terminal knew before
// DEBIT FOR PURCHASE (DESIGN.md 3.1, 4): CardNo, CardSerial, Amount,
// BalanceBefore, CardCounter, TerminalID, TerminalSeq, TxTime, KeyIndex,
// KeyVersion, Algorithm and MAC1, so that the outcome can be recovered from
// the card after a restart. The purchase-completed, -voided and -uncertain
// records repeat all of them plus IntentID (the sequence of the intent
// record), and the completed record adds BalanceAfter, TAC and MAC2: a
// ledger verifies the purchase TAC from one record, without a join —
// TAC over be32(Amount) ‖ 06 ‖ TerminalID ‖ be32(TerminalSeq) ‖ TxTime under
// the TAC key diversified by CardSerial, with the algorithm Algorithm names.
type Record struct {
	Seq  uint64 `cbor:"1,keyasint" json:"seq"`            // 1, 2, 3, ... without gaps
	Time int64  `cbor:"2,keyasint" json:"time"`           // wall clock, Unix milliseconds
	Kind Kind   `cbor:"3,keyasint" json:"kind"`           // what the record is evidence of
	Prev []byte `cbor:"4,keyasint" json:"prev,omitempty"` // SHA-256 of the previous record's encoding (or the genesis value)

	IntentID      uint64 `cbor:"5,keyasint,omitempty" json:"intent_id,omitempty"`      // sequence of the purchase-intent record
	CardNo        string `cbor:"6,keyasint,omitempty" json:"card_no,omitempty"`        // card number (application serial) or credential id
	Amount        int64  `cbor:"7,keyasint,omitempty" json:"amount,omitempty"`         // fen
	BalanceBefore int64  `cbor:"8,keyasint,omitempty" json:"balance_before,omitempty"` // fen, as INITIALIZE returned it
	BalanceAfter  int64  `cbor:"9,keyasint,omitempty" json:"balance_after,omitempty"`  // fen
	CardCounter   uint32 `cbor:"10,keyasint,omitempty" json:"card_counter,omitempty"`  // card's offline (purchase) or online (load) counter before the transaction
	TerminalSeq   uint32 `cbor:"11,keyasint,omitempty" json:"terminal_seq,omitempty"`  // PSAM terminal transaction sequence
	TerminalID    []byte `cbor:"12,keyasint,omitempty" json:"terminal_id,omitempty"`   // PSAM terminal id, 6 bytes
	TAC           []byte `cbor:"13,keyasint,omitempty" json:"tac,omitempty"`           // 4 bytes
	MAC2          []byte `cbor:"14,keyasint,omitempty" json:"mac2,omitempty"`          // 4 bytes
	Reason        string `cbor:"15,keyasint,omitempty" json:"reason,omitempty"`        // why: void reason, denial reason, alarm kind, ...
	Credential    string `cbor:"16,keyasint,omitempty" json:"credential,omitempty"`    // gate: card, qr, nfc, uid, ...
	OldTime       int64  `cbor:"17,keyasint,omitempty" json:"old_time,omitempty"`      // clock-changed: the time before the jump, Unix ms
	Version       uint64 `cbor:"18,keyasint,omitempty" json:"version,omitempty"`       // config-applied: version of what was applied
	Digest        []byte `cbor:"19,keyasint,omitempty" json:"digest,omitempty"`        // config-applied: digest of what was applied
	TxTime        []byte `cbor:"20,keyasint,omitempty" json:"tx_time,omitempty"`       // purchase: the 7-byte BCD date ‖ time sent in DEBIT, exactly
	CardSerial    []byte `cbor:"21,keyasint,omitempty" json:"card_serial,omitempty"`   // purchase: 8-byte key diversification factor of the card
	KeyIndex      uint8  `cbor:"22,keyasint,omitempty" json:"key_index,omitempty"`     // purchase: DPK index sent in INITIALIZE
	KeyVersion    uint8  `cbor:"23,keyasint,omitempty" json:"key_version,omitempty"`   // purchase: key version the card returned
	Algorithm     uint8  `cbor:"24,keyasint,omitempty" json:"algorithm,omitempty"`     // purchase: algorithm byte the card returned (00 DES, 04 SM4)
	MAC1          []byte `cbor:"25,keyasint,omitempty" json:"mac1,omitempty"`          // purchase: the SAM's MAC1 sent in DEBIT, 4 bytes

	// The fields of the card-write and service records (issue 15), on
	// those kinds only (see the Kind constants).
	Ref      string `cbor:"26,keyasint,omitempty" json:"ref,omitempty"`      // card-write: the ledger's write id (W-n); service: the request id, lower-case hex
	Operator string `cbor:"27,keyasint,omitempty" json:"operator,omitempty"` // the operator signed in at a desk
	Field    string `cbor:"28,keyasint,omitempty" json:"field,omitempty"`    // card-write: the field written (WriteField.String: tx-limit, status, ...)
	Trade    string `cbor:"29,keyasint,omitempty" json:"trade,omitempty"`    // card-write, service: the trade's name (Trade.String: set-limit, unfreeze, ...)
	Account  string `cbor:"30,keyasint,omitempty" json:"account,omitempty"`  // service: the holder's number, for a trade without the card (report-loss, unblock)
}

// Sizes of the fixed-size purchase fields.
const (
	TerminalIDSize = 6
	TxTimeSize     = 7
	CardSerialSize = 8
	CryptogramSize = 4 // TAC, MAC1, MAC2
)

// WallTime returns Time as a time.Time.
func (r *Record) WallTime() time.Time { return time.UnixMilli(r.Time).UTC() }

// Errors of record encoding and decoding.
var (
	// ErrInvalidRecord is returned for a record that breaks the format's rules.
	ErrInvalidRecord = errors.New("protocol: invalid record")
	// ErrNonCanonical is returned when bytes decode but are not the one
	// canonical encoding of the record (and so would hash differently).
	ErrNonCanonical = errors.New("protocol: record not canonically encoded")
)

var (
	recordEnc cbor.EncMode
	recordDec = MustStrictDecMode(DecLimits{Nesting: 4, ArrayElements: 16, MapPairs: 32})
)

func init() {
	var err error
	recordEnc, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
}

// Validate checks the rules every record obeys: a known kind, a sequence from
// 1, a 32-byte link, non-negative amounts and the fixed sizes of the card
// cryptograms, terminal id, transaction time and card serial (each either
// absent or exactly its size; an empty byte string is encoded as absent).
func (r *Record) Validate() error {
	switch {
	case !r.Kind.Valid():
		return fmt.Errorf("%w: unknown kind %d", ErrInvalidRecord, r.Kind)
	case r.Seq == 0:
		return fmt.Errorf("%w: sequence 0", ErrInvalidRecord)
	case len(r.Prev) != HashSize:
		return fmt.Errorf("%w: prev hash is %d bytes", ErrInvalidRecord, len(r.Prev))
	case r.Amount < 0 || r.BalanceBefore < 0 || r.BalanceAfter < 0:
		return fmt.Errorf("%w: negative amount or balance", ErrInvalidRecord)
	case r.TerminalID != nil && len(r.TerminalID) != TerminalIDSize:
		return fmt.Errorf("%w: terminal id is %d bytes", ErrInvalidRecord, len(r.TerminalID))
	case r.TAC != nil && len(r.TAC) != CryptogramSize:
		return fmt.Errorf("%w: tac is %d bytes", ErrInvalidRecord, len(r.TAC))
	case r.MAC2 != nil && len(r.MAC2) != CryptogramSize:
		return fmt.Errorf("%w: mac2 is %d bytes", ErrInvalidRecord, len(r.MAC2))
	case r.MAC1 != nil && len(r.MAC1) != CryptogramSize:
		return fmt.Errorf("%w: mac1 is %d bytes", ErrInvalidRecord, len(r.MAC1))
	case r.TxTime != nil && len(r.TxTime) != TxTimeSize:
		return fmt.Errorf("%w: tx time is %d bytes", ErrInvalidRecord, len(r.TxTime))
	case r.CardSerial != nil && len(r.CardSerial) != CardSerialSize:
		return fmt.Errorf("%w: card serial is %d bytes", ErrInvalidRecord, len(r.CardSerial))
	case len(r.CardNo) > 32 || len(r.Reason) > 64 || len(r.Credential) > 16 || len(r.Digest) > 64:
		return fmt.Errorf("%w: field too long", ErrInvalidRecord)
	}
	return r.validateService()
}

// Bounds of the card-write and service record fields.
const (
	// MaxRecordNameLen bounds Record.Field and Record.Trade.
	MaxRecordNameLen = 16
)

// validateService checks the fields of the card-write and service
// records: each present only on the kinds that use it, each a name (ASCII
// letters, digits and . _ : -) of bounded length; a card-write record
// names its card, write, field and outcome; a service record its trade,
// request and card or account.
func (r *Record) validateService() error {
	optName := func(s string, max int) bool { return s == "" || validName(s, max) }
	switch r.Kind {
	case KindCardWrite, KindService:
	default:
		if r.Ref != "" || r.Operator != "" || r.Field != "" || r.Trade != "" || r.Account != "" {
			return fmt.Errorf("%w: card-write or service fields on a %v record", ErrInvalidRecord, r.Kind)
		}
		return nil
	}
	switch {
	case !validName(r.Ref, MaxKeyIDLen):
		return fmt.Errorf("%w: %v record: invalid or missing ref", ErrInvalidRecord, r.Kind)
	case !optName(r.Operator, MaxOperatorLen) || !optName(r.Trade, MaxRecordNameLen):
		return fmt.Errorf("%w: %v record: invalid operator or trade", ErrInvalidRecord, r.Kind)
	case r.CardNo != "" && !validCardNo(r.CardNo):
		return fmt.Errorf("%w: %v record: invalid card number", ErrInvalidRecord, r.Kind)
	}
	if r.Kind == KindCardWrite {
		switch {
		case r.CardNo == "" || r.Account != "":
			return fmt.Errorf("%w: card-write record: a card number and no account", ErrInvalidRecord)
		case !validName(r.Field, MaxRecordNameLen) || !validName(r.Reason, MaxKeyIDLen):
			return fmt.Errorf("%w: card-write record: invalid or missing field or outcome", ErrInvalidRecord)
		}
		return nil
	}
	switch {
	case r.Field != "":
		return fmt.Errorf("%w: service record: a field", ErrInvalidRecord)
	case r.Trade == "":
		return fmt.Errorf("%w: service record: no trade", ErrInvalidRecord)
	case r.CardNo == "" && r.Account == "":
		return fmt.Errorf("%w: service record: no card number or account", ErrInvalidRecord)
	case !optName(r.Account, MaxAccountIDLen):
		return fmt.Errorf("%w: service record: invalid account", ErrInvalidRecord)
	}
	return nil
}

// EncodeRecord validates r and returns its canonical CBOR encoding (RFC 8949
// core deterministic): the same record always gives the same bytes.
func EncodeRecord(r *Record) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := recordEnc.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode record: %w", err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes encoded", ErrInvalidRecord, len(b))
	}
	return b, nil
}

// DecodeRecord decodes one record from hostile bytes: it refuses oversized
// input, duplicate map keys, indefinite lengths, tags, unknown fields, trailing
// bytes, invalid records and any encoding other than the canonical one.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) > MaxRecordSize {
		return r, fmt.Errorf("%w: %d bytes", ErrInvalidRecord, len(b))
	}
	if err := recordDec.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	again, err := recordEnc.Marshal(&r)
	if err != nil {
		return Record{}, fmt.Errorf("protocol: decode record: %w", err)
	}
	if !bytes.Equal(again, b) {
		return Record{}, ErrNonCanonical
	}
	return r, nil
}

// RecordHash is the chain hash of an encoded record: SHA-256 over its exact
// bytes. The next record's Prev holds it.
func RecordHash(encoded []byte) [HashSize]byte { return sha256.Sum256(encoded) }

// GenesisHash is the link of a device's first record in its first store
// (epoch 0): SHA-256("yktd-journal-v1" ‖ device id).
func GenesisHash(deviceID string) [HashSize]byte { return EpochGenesis(deviceID, 0) }

// EpochGenesis is the link of the first record of a device's journal in
// epoch epoch. A device's journal starts at epoch 0; a store started anew
// over the same enrolled identity (its old store lost) is the next epoch,
// numbered 1, 2, ..., with its own sequence from 1 and its own genesis:
// SHA-256("yktd-journal-v1" ‖ device id ‖ 0x00 ‖ be64(epoch)) for epoch ≥ 1
// (a device id never holds 0x00), the plain GenesisHash for epoch 0.
func EpochGenesis(deviceID string, epoch uint64) [HashSize]byte {
	h := sha256.New()
	h.Write([]byte("yktd-journal-v1"))
	h.Write([]byte(deviceID))
	if epoch > 0 {
		var e [9]byte
		binary.BigEndian.PutUint64(e[1:], epoch)
		h.Write(e[:])
	}
	var out [HashSize]byte
	h.Sum(out[:0])
	return out
}
