package kiosk

import (
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/ui"
)

// Codes of the kiosk's screens: the claim engine's (terminal/load), which
// also has one code per refusal of the ledger (load.CodeSpendOnly, ...).
const (
	CodeLoaded          = load.CodeLoaded          // the card was credited: amount and new balance
	CodeEarlierLoad     = load.CodeEarlierLoad     // a torn load of this card is found credited
	CodeNothingPending  = load.CodeNothingPending  // no money waits at the ledger for the card
	CodePurseLimit      = load.CodePurseLimit      // the load would take the card above its limit
	CodeLedgerOffline   = load.CodeLedgerOffline   // the ledger did not answer: nothing loaded
	CodeLedgerRefused   = load.CodeLedgerRefused   // the ledger refused for a reason of the protocol (the account's reasons have their own codes)
	CodeLoadTorn        = load.CodeLoadTorn        // CREDIT sent, answer lost: place the card again (ui.CodeCardRemoved)
	CodeLoadUnresolved  = load.CodeLoadUnresolved  // the card cannot settle a torn load here: the service desk
	CodeCardRefused     = load.CodeCardRefused     // the card refused the load
	CodeNoPurse         = load.CodeNoPurse         // no e-purse application this kiosk knows
	CodeTapAgain        = load.CodeTapAgain        // the card left or failed before anything moved
	CodeStoreFault      = load.CodeStoreFault      // the store failed: see the log
	CodeStorageFull     = load.CodeStorageFull     // no room for a new load: collect the journal
	CodeSAMFault        = load.CodeSAMFault        // the PSAM (system PIN, terminal id) failed
	CodeInvalidAmount   = load.CodeInvalidAmount   // an amount the ledger holds no load of
	CodeSystemPINFailed = load.CodeSystemPINFailed // the card refused the system PIN: wrong keys on this kiosk
)

// message is the screen of a code without numbers.
func message(c ui.Code) ui.Message { return load.Message(c) }
