// The wire protocol (docs/protocol.md is the full reference for a ledger
// implementer):
//
//   - Messages are CBOR maps with integer keys, encoded canonically (Encode)
//     and decoded strictly (DecodeXxx): duplicate keys, indefinite lengths,
//     tags, invalid UTF-8, unknown fields, trailing bytes and oversize input
//     are refused with an *Error of code malformed or too-large. Every
//     message type has a content type (TypeBatch = "yktd/batch", ...).
//   - Signed messages are tagged COSE_Sign1 (RFC 9052, via go-cose): Seal
//     signs a Message for a device (external AAD = the device id); Open
//     (device side, ledger keys) and OpenFromDevice (ledger side, kid = device
//     id) verify and decode. Sign and Verify work on raw payloads. Suites are
//     pluggable by COSE algorithm number (Suite, RegisterSuite); Ed25519
//     (-8) is registered by default.
//   - Errors: Code (stable numbers 1..15), *Error (the wire Error message and
//     the Go error), and one sentinel per code for errors.Is (ErrGap,
//     ErrFork, ErrBadSignature, ErrUnknownKey, ErrStale, ...).
//   - Campus QR tokens: SignQRToken, VerifyQRToken (base45 of a COSE_Sign1).
//
// Deviations from the wire contract agreed between the protocol, ledger and
// sync-client engineers (also listed in docs/protocol.md §12): the version
// of a downstream message sits in the protected header under the private
// label HeaderLabelVersion (-65537); the unprotected header must be empty
// and the protected header holds only alg, content type, kid and version;
// the COSE_Sign1 must be tagged; an algorithm that is not the key's is
// unsupported-alg, a wrong content type malformed, a wrong AAD
// bad-signature, an expired QR issuer key revoked (and ErrKeyExpired);
// status entries and changes are sorted strictly by card bytes and a
// snapshot's digest is checked when decoding; /v1/status answers 204 when
// Have is current; decoders accept non-canonical messages (not records);
// LoadInit carries no load id (the ledger claims the card's pending loads
// totalling Amount); identifiers are restricted to A-Z a-z 0-9 . _ : -.
package protocol
