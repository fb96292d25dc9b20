package syncclient

import (
	"errors"
	"fmt"
)

// Sentinel errors of the client; match them with errors.Is. Errors from the
// ledger's Error answers also match protocol's sentinels (protocol.ErrGap,
// protocol.ErrFork, ...), and those from the store its own.
var (
	// ErrBadAck: a verified acknowledgement that does not acknowledge what
	// was sent (other device, batch, sequence or head). The cursor is not
	// moved.
	ErrBadAck = errors.New("syncclient: acknowledgement does not match the batch sent")
	// ErrLedgerBehind: the ledger wants records the device already holds
	// acknowledged (its high-water mark is below the device's cursor): it
	// lost data it had acknowledged. The client stops uploading; an
	// operator must look (restore the ledger, or export the journal).
	ErrLedgerBehind = errors.New("syncclient: ledger is behind the acknowledged cursor")
	// ErrLedgerAhead: the ledger claims records beyond the device's journal
	// head: it holds another device's or another store's journal under
	// this id. The client stops uploading.
	ErrLedgerAhead = errors.New("syncclient: ledger is ahead of the journal")
	// ErrStaleDownload: the ledger sent a status list or rules older than
	// (or, for rules, as old as) the version held. Nothing is applied.
	ErrStaleDownload = errors.New("syncclient: download older than the version held")
	// ErrResponse: the ledger's answer could not be used (wrong HTTP
	// status or content type, truncated, oversized, not decodable).
	ErrResponse = errors.New("syncclient: unusable response from the ledger")
	// ErrNotEnrolled: a sync operation before the ledger key is known.
	ErrNotEnrolled = errors.New("syncclient: device not enrolled (no ledger key)")
	// ErrDeviceRevoked: the ledger answered that this device is revoked
	// (it wraps the ledger's protocol.ErrRevoked). It is not a FatalError:
	// Run keeps uploading the journal for collection; the terminal takes
	// no more money (StateSink.RecordRevoked).
	ErrDeviceRevoked = errors.New("syncclient: device revoked by the ledger")
	// ErrDeviceHeld: the ledger holds this device because its PSAM is not
	// bound to it (it wraps protocol.ErrPSAMBinding). Not a FatalError:
	// the journal still uploads; the terminal takes no money
	// (HoldSink.RecordLedgerHeld) until the ledger serves it again.
	ErrDeviceHeld = errors.New("syncclient: device held by the ledger (PSAM binding)")
	// ErrLedgerKeyMismatch: the enrolment answer carries (and is signed
	// by) a ledger key whose fingerprint is not the pinned one. Nothing is
	// pinned.
	ErrLedgerKeyMismatch = errors.New("syncclient: ledger key is not the pinned one")
	// ErrNoLedgerPin: enrolment must pin the ledger key by fingerprint
	// (Options.RequireLedgerPin) and none is configured. Nothing was sent.
	ErrNoLedgerPin = errors.New("syncclient: no ledger key fingerprint pinned for enrolment")
)

// FatalError is an error after which Run stops instead of retrying: the
// journal and the ledger disagree (fork, broken chain, ledger behind or
// ahead: uploading halts, downloads go on) or the ledger does not know the
// device (Run ends). A technician reads the logs; retrying cannot fix it
// and could hide it. A revoked device is not fatal (ErrDeviceRevoked).
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return fmt.Sprintf("syncclient: stopped: %v", e.Err) }

// Unwrap returns the cause.
func (e *FatalError) Unwrap() error { return e.Err }

// IsFatal reports whether err stops the sync loop.
func IsFatal(err error) bool {
	var f *FatalError
	return errors.As(err, &f)
}
