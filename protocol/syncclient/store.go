package syncclient

import (
	"time"

	"github.com/openykt/yktd/protocol"
)

// Journal is the device journal as the client uploads it. *offline.Store's
// SyncSource satisfies it.
type Journal interface {
	// Cursor returns the sequence the ledger acknowledged through and
	// that record's hash (the genesis value at 0).
	Cursor() (seq uint64, hash [protocol.HashSize]byte, err error)
	// Head returns the last record's sequence and hash.
	Head() (seq uint64, hash [protocol.HashSize]byte, err error)
	// RawRecords returns the exact bytes of up to n records with sequence
	// > after, in order.
	RawRecords(after uint64, n int) ([][]byte, error)
	// Ack moves the cursor to seq, whose record must hash to hash.
	Ack(seq uint64, hash [protocol.HashSize]byte) error
}

// Epocher is implemented by a Journal whose store may be a later epoch of
// the device's journal (protocol.EpochGenesis); a Journal without it is
// epoch 0.
type Epocher interface {
	Epoch() uint64
}

// StatusSink receives verified status lists.
type StatusSink interface {
	// StatusVersion returns the version held (0 = none).
	StatusVersion() (uint64, error)
	// ApplyStatusSnapshot and ApplyStatusDelta apply atomically or not at
	// all; they refuse an older version and a digest mismatch.
	ApplyStatusSnapshot(protocol.StatusSnapshot) error
	ApplyStatusDelta(protocol.StatusDelta) error
}

// RulesSink receives verified rules.
type RulesSink interface {
	// RulesVersion returns the version in force (0 = none).
	RulesVersion() (uint64, error)
	// PutRules stores rules with the signed message they came in; it
	// refuses a version not newer than the one held.
	PutRules(version uint64, signedRaw []byte, rules protocol.Rules) error
}

// StateSink keeps what the client learns of the device's standing with
// the ledger, for the terminal's fail-closed rules: the offline limit
// counts from the last contact, and a revoked device takes no money.
// *offline.Store's SyncSource satisfies it. Errors are logged; they do not
// stop a sync round.
type StateSink interface {
	// RecordContact notes a successful exchange with the ledger at t: a
	// verified acknowledgement, status list or rules answer.
	RecordContact(t time.Time) error
	// RecordRevoked notes that the ledger answered that the device is
	// revoked (true), or that it serves the device again (false).
	RecordRevoked(revoked bool, t time.Time) error
}

// HoldSink is implemented by a StateSink that keeps the ledger's hold on
// the device for its PSAM binding (docs/protocol.md §5.1), for the
// terminal's money hold; *offline.Store's SyncSource satisfies it. The
// client calls it when the ledger's answer about the hold changes (an
// Ack's or the enrolment answer's Held, a psam-binding refusal, a status
// or rules answer: not held) and once per process at the first answer.
type HoldSink interface {
	RecordLedgerHeld(held bool, t time.Time) error
}
