// Package perf is `make perf`: it measures the real yktd daemon against
// the budgets of DESIGN §7 and issue 13 (resident memory with a 1M-entry
// status list under tap load, start to ready, the linux/arm binary size,
// tap-to-display through real pcscd + vpcd, and the sale's software
// overhead beyond the card's own APDU time), each next to a baseline
// measured in the same run, and writes one table (and dist/perf.json).
//
// The programs are the real ones, as processes: `ledgerd serve` on a data
// directory seeded in-process through package ledger, `yktd run --config`
// on a PC/SC reader of the machine's pcscd (vpcd's slots), enrolled with a
// one-time token and pulling the status list over HTTP. The virtual cards
// are reader/sim cards behind reader/vpcd slots (what `yktd rig vcard`
// runs), hosted in this process so that every frame pcscd sends them is
// timed. docs/perf.md says what each row means and how it is measured.
package perf
