// Package pos is the POS flow of a yktd terminal (canteen, shower and
// hot-water meters).
//
// POS runs the purchase flow (docs/architecture.md) for one reader at a
// time. HandleCard reads the card (select the e-purse, file 0x15, GET
// BALANCE), resolves any open or
// uncertain purchase intent this terminal holds for that card first, asks
// the policy (status list, validity, repeat guard, meal periods, class
// pricing, daily limit, minimum balance, PIN limit), takes the PIN on the
// keypad and VERIFYs it on the card when the policy asks for it, then runs
// the purchase: INITIALIZE FOR PURCHASE, a durable intent
// (offline.Store.OpenIntent, one fsync'd commit) before DEBIT FOR PURCHASE,
// MAC1 and the MAC2 check by the SAM, and the completion in the journal.
// Anything but a clear refusal by the card after DEBIT was sent leaves the
// intent uncertain and the display asks the customer to tap again.
//
// Modes (terminal/config POS.Mode): keyed (the cashier's amount), fixed,
// per-use (hot water) and metered (shower: tap to start, tap again to stop,
// one debit for the minutes used at the end). CancelLast lets the cashier
// (with the cashier's PIN, pos.cashier_pin_hash) reverse the last sale
// within the configured window, journaled as a purchase-reversed record.
//
// # Recovery
//
// When a card with an open or uncertain intent comes back, the intent is
// resolved from the card (epurse.Recover: counter advanced by one → GET
// TRANSACTION PROVE → completed; unchanged → voided). A recovered sale that
// did complete counts as the sale being paid when it is for the same amount
// and younger than the retry window (POS.RetryWindow): the customer who taps
// again after a torn sale is not charged twice. A voided one is paid again.
// Startup lists what a previous run left: an intent still open after a
// crash may or may not have been debited, so it is marked uncertain.
//
// # The claim before the sale
//
// An online POS (Options.Ledger, pos.claim_loads) first claims for the
// card the money its account holds for loading (claim.go, the shared
// engine of terminal/load): it settles its own torn load intents of the
// card, asks the ledger under the hard limit pos.claim_timeout, loads with
// the PSAM's system PIN (no PIN from the customer), shows what it loaded,
// then sells from the new balance. A slow or unreachable ledger, or a
// refusal, means it just sells.
//
// Authority: a sale takes money off the card with the PSAM's purchase MAC;
// the claim puts money on it only with the ledger's MAC2 (the POS holds no
// load key) and the system PIN from the PSAM.
package pos
