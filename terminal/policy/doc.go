// Package policy decides whether a tap is allowed: the pure decision
// functions of the terminal (DESIGN.md 3.1, 3.2).
//
// Everything here is a function of its inputs: card data, the card's
// status-list reason, the device's configured defaults, the ledger's signed
// rules, the time and the little per-card usage state the terminal keeps.
// Nothing reads a clock, a file or a global; the flows in package terminal
// gather the inputs, call DecidePOS or DecideGate, act on the Decision and
// then fold what actually happened back into the state with Usage.Add and
// Passback.Passed.
//
// A campus QR token goes through CheckQRToken first (signature with the
// rules' issuer keys, then the time window); the flow asks its nonce cache
// and hands the claims with NonceSeen to DecideGate.
//
// Every refusal carries a stable Code with a Chinese and English Message
// for the customer display. Where a rule a decision needs is missing (no
// rules held at a gate, an unknown door, a group naming an unknown time
// profile) the decision fails closed with CodeNoRules or CodeRuleMissing.
package policy
