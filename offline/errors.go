package offline

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers decide on; match them with errors.Is. Every error
// the package returns wraps one of these or an error of bbolt or the OS, and
// reads "offline: what was done: why": the sentinels carry no prefix, the
// error wrapping them adds it once.
var (
	// ErrNotFound: no such intent (never opened, or already completed or voided).
	ErrNotFound = errors.New("not found")
	// ErrVersionGap: a status-list delta does not start at the current version.
	ErrVersionGap = errors.New("status list version gap")
	// ErrStaleVersion: a status list older than the one held was offered.
	ErrStaleVersion = errors.New("status list version is older than the current one")
	// ErrDigestMismatch: the list after applying does not have the digest the ledger signed.
	ErrDigestMismatch = errors.New("status list digest mismatch")
	// ErrSchemaTooNew: the file was written by a newer yktd; this one must not touch it.
	ErrSchemaTooNew = errors.New("store schema is newer than this program")
	// ErrStoreInUse: another process (usually the daemon) holds the store's lock.
	ErrStoreInUse = errors.New("store in use by another process")
	// ErrStorageFull: no room for a new purchase (or, at the hard cap, for any record). Collect the journal.
	ErrStorageFull = errors.New("storage full, collect the journal")
	// ErrNearlyFull: the store still works but should be collected soon.
	ErrNearlyFull = errors.New("storage nearly full, collect the journal")
	// ErrReadOnly: a write on a store opened read-only.
	ErrReadOnly = errors.New("store opened read-only")
	// ErrDeviceMismatch: the store belongs to another device id.
	ErrDeviceMismatch = errors.New("store belongs to another device")
	// ErrIntentState: the intent is not in a state that allows the operation.
	ErrIntentState = errors.New("intent in wrong state")
	// ErrBadAck: an acknowledgement that is beyond the head, behind the cursor or names the wrong hash.
	ErrBadAck = errors.New("bad acknowledgement")
	// ErrInvalid: an argument breaks the store's rules (bad card number, wrong kind, ...).
	ErrInvalid = errors.New("invalid argument")
	// ErrCorrupt: stored bytes do not decode; the file was damaged or tampered with.
	ErrCorrupt = errors.New("store corrupt")
	// ErrNotStore: the file is not a yktd store (empty, not bbolt, or bbolt without a yktd schema).
	ErrNotStore = errors.New("not a yktd store")
)

// ChainError reports the first broken link of the journal found by Verify.
// It matches ErrChainBroken with errors.Is.
type ChainError struct {
	Seq    uint64 // first sequence number whose record or link is wrong
	Reason string
}

// ErrChainBroken matches any *ChainError.
var ErrChainBroken = errors.New("journal chain broken")

func (e *ChainError) Error() string {
	return fmt.Sprintf("offline: journal chain broken at sequence %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrChainBroken) true for a *ChainError.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// wrapped is an error of this package that wraps another of its own: it
// reads ctx, then the inner message without a second package prefix.
type wrapped struct {
	ctx string
	err error
}

func (w *wrapped) Error() string {
	return w.ctx + ": " + strings.TrimPrefix(w.err.Error(), "offline: ")
}
func (w *wrapped) Unwrap() error { return w.err }

// wrap puts err, which may already carry the package prefix, in the
// context ctx ("offline: migration 4"), keeping errors.Is and errors.As.
func wrap(ctx string, err error) error { return &wrapped{ctx: ctx, err: err} }
