// Package kiosk will be the 圈存 kiosk flow of a yktd terminal: money
// waiting at the ledger loaded onto the card (INITIALIZE FOR LOAD, the
// ledger's MAC2, a durable load intent, CREDIT FOR LOAD), and the holder's
// self-service (PIN, limit, loss report, unfreeze, extension) through the
// touch page yktd serves. It is empty until the loads issue builds it: a
// device of kind "kiosk" is refused by the configuration today. Like
// terminal/pos and terminal/gate it imports no other kind.
package kiosk
