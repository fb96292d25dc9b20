// Package update installs signed releases of yktd on a device: the release
// manifest signed as COSE_Sign1 by a release key (neither the ledger's nor
// a device's), the pinned release keys and the announcements that add one,
// the two binary slots with the boot pointer switched by rename, and the
// trial of a new binary: counted before it does anything, committed after
// its health check, rolled back after N crashes or a failed check.
//
// It imports no package of ours but protocol (DESIGN.md §2, room update).
// Decisions are pure functions (CheckRelease, decideStart); Slots does the
// file I/O around them. The layout of a slots directory DIR:
//
//	DIR/release-keys.pem   pinned release keys (PEM, one block each)
//	DIR/slots/a, slots/b   the binaries (mode 0755)
//	DIR/slots/a.json       what a slot holds (SlotInfo, with its manifest)
//	DIR/current            symlink to slots/a or slots/b: what the service starts
//	DIR/trial.json         the trial state (State)
package update
