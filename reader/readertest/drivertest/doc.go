// Package drivertest holds the checks every reader driver passes, shared
// by the driver packages' tests (reader/pcsc, reader/pn532): the walk of
// the reader.Reader and reader.Card contract against an echo card, and the
// e-purse walk (Purchase) on the strict virtual card of reader/sim: a
// purchase, tears recovered by PROVE and by the card's log after another
// terminal's sale, a load refused without a PIN and done with the system
// PIN, a phone's random UIDs.
//
// It is a package of its own rather than part of reader/readertest because
// it imports reader/epurse, whose own tests import reader/readertest.
package drivertest
