// Package sim holds virtual readers and virtual cards: the heart of the
// hardware-in-loop rig and of every end-to-end test of the card flows.
//
// Card is a virtual CPU card with a PBOC e-purse using the crypto of
// reader/epurse; PSAMCard is a virtual PSAM (which also derives system
// PINs: DIVERSIFY KEY 80 1A, ENCRYPT 80 FA). Both have the card-side
// contract of the vpcd bridge (ATR, Reset, Respond; ErrTorn when no
// response left the card) and a scriptable fault injector (Arm): tear
// before or after execution, garbled or truncated response, wrong MAC2,
// latency, chosen by instruction and occurrence. A Card's state can live in
// a file (Save, LoadCard), rewritten atomically before each response that
// follows an EEPROM change, so crash tests survive the terminal dying.
//
// # As strict as a real card
//
// A fake kinder than the hardware proves nothing, so the virtual card keeps
// to what card operating systems do (each has a test of its own in
// strict_test.go):
//
//   - only the last transaction's proof: GET TRANSACTION PROVE answers for
//     the card's last purchase or load only (9406 for anything older);
//   - a cyclic log: file 0x18 holds the ten newest transactions, newest
//     first, the oldest overwritten (Profile.LogCounterAfter makes the
//     records carry the counter after the transaction, as some card OSes
//     do, instead of before it);
//   - a verified PIN before a load: INITIALIZE FOR LOAD answers 6982
//     unless a PIN was verified since the application was selected (the
//     security state is lost on reset, tear, a new SELECT and a wrong
//     PIN). The two-PIN model: VERIFY P2 00 is the holder's PIN (Profile.
//     PIN, 3 tries), P2 01 the system PIN, derived at issuance from the
//     application serial under the issuer's system-PIN master key
//     (epurse.DeriveSystemPIN; 15 tries of its own; 6A88 on a card issued
//     without one). Either opens loads; purchases need none;
//   - card writes under secure messaging (sm.go): a GET CHALLENGE is good
//     for the next command only; UPDATE BINARY of files 0x15 and 0x12
//     needs the MAC under the card's maintenance key (6987 without, 6984
//     without a fresh challenge, 6988 wrong) and is written whole or not
//     at all; a blocked application (APPLICATION BLOCK) answers SELECT 6A81
//     (9303 permanently) and refuses purchases, loads and PINs until
//     APPLICATION UNBLOCK; PIN RELOAD resets the holder's PIN and tries;
//   - phones: a Profile of Kind KindPhone (HCE) presents a new random UID
//     (08 xx xx xx) at every presentation (Reset); its identity is file
//     0x15 only.
//
// The card also answers the reader's GET DATA UID (FF CA 00 00), which a
// PC/SC reader answers itself: behind vpcd the virtual card is the reader.
//
// Reader is a reader.Reader presenting those cards (Tap, Remove). The demo
// catalogue (Catalogue, NewDemoCard) is issued with the test keys of
// reader/sam.
//
// # Control interface
//
// Control is an http.Handler (serve it on loopback only) that the rig and
// `yktd run --sim` use to drive the readers and cards with JSON:
//
//	GET    /cards                  list cards: [{"name", "kind", "status"}]
//	GET    /cards/{name}           one card's status (balance, counters, PIN tries, faults)
//	POST   /cards/{name}/faults    arm a fault: {"kind":"tear-after","ins":"debit","nth":1}
//	DELETE /cards/{name}/faults    disarm every fault
//	GET    /readers                list readers and the card each holds
//	POST   /readers/{name}/tap     present a card: {"card":"student"}
//	POST   /readers/{name}/remove  take the card away
//
// Errors are {"error": "..."} with status 400 (bad request), 404 (unknown
// card or reader) or 405.
package sim
