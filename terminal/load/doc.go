// Package load is the claim engine (领取) shared by the kinds of device
// that put money onto a card: the 圈存 kiosk (terminal/kiosk) and the
// online POS (terminal/pos), which claims before the sale (DESIGN.md 3.3).
//
// One claim: settle the torn load intents this device holds for the card
// (Resolve: epurse.RecoverLoad, then complete, void or leave uncertain;
// credited loads are confirmed with the ledger by their TAC), ask the
// ledger what the card may claim (Claims: what the account holds, what
// fits under the purse limit, the refusal a load would get), and run
// epurse.Load with a host that makes the load intent durable before the
// ledger is asked (BeginLoad) and again with the ledger's MAC2 before
// CREDIT FOR LOAD is sent (AuthorizeLoad). Results carry a ui.Code and
// its message in Chinese and English; each refusal of the ledger has its
// own code (messages.go).
//
// The engine shows nothing and beeps nothing itself (but for the credit,
// shown through Options.Show before the ledger's confirmation round
// trip): the device around it does. It is not safe for concurrent use:
// the device runs one card at a time.
//
// Like terminal/cardread and terminal/ui it imports no kind of device.
//
// Authority: a claim moves money the ledger holds for the card onto the
// card. The ledger authorises it (MAC1 proves the card, the device's
// signature the device; MAC2 is the ledger's); the device holds no key
// that creates money, and its system PIN source (the PSAM) only opens
// the card's load.
package load
