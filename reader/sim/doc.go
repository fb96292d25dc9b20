// Package sim holds virtual readers and virtual cards: the heart of the
// hardware-in-loop rig and of every end-to-end test of the card flows.
//
// Card is a virtual CPU card with a PBOC e-purse using the crypto of
// reader/epurse; PSAMCard is a virtual PSAM. Both have the card-side
// contract of the vpcd bridge (ATR, Reset, Respond; ErrTorn when no
// response left the card) and a scriptable fault injector (Arm): tear
// before or after execution, garbled or truncated response, wrong MAC2,
// latency, chosen by instruction and occurrence. A Card's state can live in
// a file (Save, LoadCard), rewritten atomically before each response that
// follows an EEPROM change, so crash tests survive the terminal dying.
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
