// Package epurse is the PBOC electronic purse (EP) of JR/T 0025 (PBOC 2.0
// part 2, "电子钱包/电子存折应用规范") over any reader.Card: the APDUs of a
// purchase and a load, their crypto (3DES and SM4), the public application
// data and transaction log files, and the purchase and load flows with tear
// recovery. It declares the SAM interface its purchase flow needs; reader/sam
// implements it.
//
// All numbers on the wire are big-endian, amounts are in fen, dates and
// times are BCD (DESIGN.md §4).
//
// A purchase is split in steps so that the terminal can make an intent
// durable between them:
//
//	p, err := epurse.PreparePurchase(ctx, card, sam, req) // INITIALIZE, SAM MAC1: nothing debited yet
//	journal.Intent(p.Pending)                              // durable before DEBIT
//	out := p.Debit(ctx, card)                              // Done, Refused or Uncertain
//	// later, card presented again (or after a reboot):
//	out = epurse.Recover(ctx, card, pending)               // Done, DoneByLog or Void (or still Uncertain)
//
// Any failure after DEBIT FOR PURCHASE was sent is Uncertain, never failed.
// Recovery reads the card as it is: the proof of its last transaction only,
// and a small cyclic log (see recover.go): a debit proven by the log alone
// is DoneByLog, with no TAC.
package epurse
