// Package drivertest holds the checks every reader driver passes, shared
// by the driver packages' tests (reader/pcsc, reader/pn532): the walk of
// the reader.Reader and reader.Card contract against an echo card, and an
// e-purse purchase with a software SAM against a sim card, torn after
// DEBIT and recovered after a new tap.
//
// It is a package of its own rather than part of reader/readertest because
// it imports reader/epurse, whose own tests import reader/readertest.
package drivertest
