// Package sam implements the PSAM (purchase secure access module) of the
// e-purse: the epurse.SAM interface that computes the purchase MAC1 with the
// issuer's master keys and verifies the card's MAC2.
//
// Two implementations:
//
//   - Software: the master keys live in a key file (mode 0600, see KeyFile)
//     and the terminal transaction sequence in a small file next to it that
//     is rewritten atomically before every number is handed out, so a
//     number is never reused after a restart. For the rig and development.
//   - CardSAM: a real PSAM in a reader slot (any reader.Card), driven with
//     the PSAM commands of JR/T 0025 (SELECT, READ BINARY file 0x16, INIT
//     SAM FOR PURCHASE 80 70, CREDIT SAM FOR PURCHASE 80 72).
//   - Slot: the CardSAM of whatever PSAM a reader reports, kept for the
//     daemon's lifetime: it opens a PSAM when it is seated, drops it when
//     it is removed or its connection fails, restarts the reader with
//     backoff (pcscd restarted), and fails at once with ErrNoSAM while
//     none is ready. This is what a terminal uses for a PC/SC PSAM.
//
// reader/sim has a virtual PSAM card (sim.PSAMCard) that CardSAM is tested
// against. TestKeyFile holds the public test keys shared with the simulated
// cards.
package sam
