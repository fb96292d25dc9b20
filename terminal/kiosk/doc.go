// Package kiosk is the 圈存 kiosk flow of a yktd terminal (DESIGN.md 3.3):
// with a card in the reader it asks the ledger what money waits for the
// card (Pending) and claims it (领取): the system PIN, INITIALIZE FOR LOAD,
// the ledger checks MAC1 and answers MAC2, a durable load intent
// (offline.Store.OpenLoad), CREDIT FOR LOAD, the card's TAC journaled as
// the load record and confirmed with the ledger. The claim itself is the
// engine of terminal/load, which the online POS shares; the kiosk adds
// the display, the buzzer and the money holds around it.
//
// A load torn after CREDIT FOR LOAD was sent stays uncertain in the store
// and is resolved when the card returns to this kiosk, after a restart
// too (epurse.RecoverLoad: the online counter and balance advanced → the
// credit happened, its TAC from GET TRANSACTION PROVE or the card's log;
// unchanged → it did not, and the same money is claimed again; anything
// else → stop and report). Recovery at another kiosk or a POS is not
// this package's: the ledger settles those from the card's counter.
//
// The holder's self-service (PIN, limit, loss report, unfreeze, extension)
// and the touch page are planned. Like terminal/pos and terminal/gate it
// imports no other kind.
//
// Authority: a claim moves money the ledger holds for the card onto the
// card. The ledger authorises it (MAC1 proves the card, the device's
// signature the kiosk; MAC2 is the ledger's); the kiosk holds no key that
// creates money, and its system PIN source (the PSAM) only opens the
// card's load.
package kiosk
