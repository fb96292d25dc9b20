package epurse

import (
	"context"
	"errors"
	"fmt"

	"github.com/openykt/yktd/reader"
)

// Recovery of a torn purchase or load, as field terminals do it, on cards
// as they are: a card keeps the proof (GET TRANSACTION PROVE) of its last
// transaction only, and a cyclic log (file 0x18) of its few newest
// transactions, newest first, the oldest overwritten.
//
// A purchase the terminal prepared was bound by MAC1 to the card's offline
// counter N at INITIALIZE (the session key is derived from it), so if it
// happened at all it is the debit that moved the counter from N to N+1,
// and any other transaction in between (at another terminal) would have
// voided its session. With the counter now at N+k that debit is the k-th
// newest purchase record of the log; the same holds for a load and the
// online counter. Recover and RecoverLoad read that record, and settle:
//
//   - it is ours (terminal id, amount, date-time): the transaction
//     happened. With k = 1 and the proof still on the card (nothing
//     happened since) GET TRANSACTION PROVE gives MAC and TAC: Done;
//     otherwise DoneByLog, with the record as evidence and no TAC;
//   - it is another terminal's: ours never reached the card: Void;
//   - the log no longer reaches back k records of that type (rotated), or
//     its counter is neither N nor N+1 (card OSes log the counter before
//     or after the transaction; anything else is a log that disagrees with
//     the counters): Uncertain, for the ledger to settle from the card's
//     counter sequence.
//
// A card without a log file (6A82) is settled only when k = 1 and by its
// proof (the ledger checks the TAC), as before logs were read.

// logSearch is what findLogged found.
type logSearch struct {
	rec   Record
	found bool
	noLog bool // the card has no transaction log file
	read  int  // records read
}

// maxRecordNumber is the highest READ RECORD number (P1 is one byte).
const maxRecordNumber = 255

// findLogged reads the log, newest first, until the k-th record of type
// typ, the end of the log (6A83), or record 255. Never-written (all-zero)
// slots are skipped.
func findLogged(ctx context.Context, card reader.Card, typ byte, k int) (logSearch, error) {
	var out logSearch
	seen := 0
	for n := 1; n <= maxRecordNumber; n++ {
		r, err := ReadRecord(ctx, card, byte(n))
		var se *reader.StatusError
		switch {
		case errors.As(err, &se) && se.SW == reader.SWRecordNotFound:
			return out, nil
		case errors.As(err, &se) && se.SW == reader.SWFileNotFound && n == 1:
			out.noLog = true
			return out, nil
		case err != nil:
			return out, err
		}
		out.read = n
		if r.Empty() || r.Type != typ {
			continue
		}
		if seen++; seen == k {
			out.rec, out.found = r, true
			return out, nil
		}
	}
	return out, nil
}

// Recover resolves an uncertain purchase on the card now in the field (the
// e-purse application selected): it checks the card is the pending one
// (file 0x15), re-runs INITIALIZE FOR PURCHASE with amount 0 and compares
// the offline counter with N, the one before the debit:
//
//   - unchanged, and the balance is the one the intent saw: the debit did
//     not happen → Void; unchanged with another balance → Uncertain;
//   - advanced by k ≥ 1: the k-th newest purchase in the card's log is the
//     debit that moved the counter from N (see the comment above
//     findLogged): ours → Done (k = 1 and GET TRANSACTION PROVE answers:
//     MAC2 and TAC) or DoneByLog (the proof is gone: no TAC, the record in
//     LogRecord, BalanceAfter the balance our debit left); another
//     terminal's → Void (LogRecord is theirs); not in the log any more, or
//     a log that disagrees with the counter → Uncertain;
//   - anything else (the counter went back) or an error: Uncertain with
//     the reason in Err; the ledger settles it from the card's counters.
//
// A card other than the pending one returns Uncertain with ErrWrongCard.
func Recover(ctx context.Context, card reader.Card, p Pending) PurchaseOutcome {
	out := PurchaseOutcome{Kind: Uncertain, Pending: p}
	fail := func(err error) PurchaseOutcome {
		out.Err = fmt.Errorf("epurse: recover: %w", err)
		return out
	}
	pub, err := ReadPublicData(ctx, card)
	if err != nil {
		return fail(err)
	}
	if pub.Factor() != p.CardSerial {
		return fail(ErrWrongCard)
	}
	keyIndex := p.KeyIndex
	if keyIndex == 0 {
		keyIndex = DefaultKeyIndex
	}
	in, err := InitializeForPurchase(ctx, card, keyIndex, 0, p.TermID)
	if err != nil {
		return fail(err)
	}
	n := p.OfflineCounter
	switch {
	case in.OfflineCounter == n:
		if in.Balance != p.BalanceBefore {
			return fail(fmt.Errorf("offline counter unchanged but balance %d, was %d before the debit: cannot tell", in.Balance, p.BalanceBefore))
		}
		out.Kind = Void
		return out
	case in.OfflineCounter < n:
		return fail(fmt.Errorf("offline counter %d, was %d before the debit: cannot tell", in.OfflineCounter, n))
	}
	k := int(in.OfflineCounter - n)
	ls, err := findLogged(ctx, card, TxPurchase, k)
	if err != nil {
		return fail(err)
	}
	if ls.noLog {
		if k != 1 {
			return fail(fmt.Errorf("offline counter %d, was %d before the debit, and the card keeps no log: cannot tell", in.OfflineCounter, n))
		}
		mac, tac, err := GetTransactionProve(ctx, card, TxPurchase, in.OfflineCounter)
		if err != nil {
			return fail(err)
		}
		out.Kind, out.MAC2, out.TAC, out.BalanceAfter = Done, mac, tac, in.Balance
		return out
	}
	if err := checkLogged(ls, k, n, "purchase", "offline"); err != nil {
		return fail(err)
	}
	r := ls.rec
	out.LogRecord = r
	if r.TermID != p.TermID || r.Amount != p.Amount || r.Time != p.Time {
		// The debit from N was another terminal's: ours never reached
		// the card (its MAC1 was bound to counter N).
		out.Kind = Void
		return out
	}
	if k == 1 {
		mac, tac, err := GetTransactionProve(ctx, card, TxPurchase, in.OfflineCounter)
		switch {
		case err == nil:
			out.Kind, out.MAC2, out.TAC, out.BalanceAfter = Done, mac, tac, in.Balance
			return out
		case !errors.Is(err, ErrNoProof):
			return fail(err)
		}
	}
	out.Kind, out.BalanceAfter = DoneByLog, p.BalanceBefore-min(p.BalanceBefore, p.Amount)
	return out
}

// checkLogged fails unless ls holds the k-th newest record of its type
// with counter n or n+1.
func checkLogged(ls logSearch, k int, n uint16, what, counter string) error {
	if !ls.found {
		return fmt.Errorf("%s counter advanced by %d since %d, and the card's log (%d records) no longer reaches back to that %s: cannot tell", counter, k, n, ls.read, what)
	}
	if c := ls.rec.Counter; c != n && c != n+1 {
		return fmt.Errorf("%s counter advanced by %d since %d, but the log's %s #%d names counter %d: the log disagrees with the card's counter, cannot tell", counter, k, n, what, k, c)
	}
	return nil
}

// RecoverLoad resolves an uncertain load on the card now in the field: it
// checks the card, re-runs INITIALIZE FOR LOAD (amount 1 fen: a load of 0
// is refused by some card OSes; the initialisation itself changes
// nothing) and compares the online counter with N, the one before the
// credit, as Recover does with the offline counter: unchanged with the
// balance the load saw → Void; advanced by k → the k-th newest load of the
// log decides (ours: Done with the proof when k = 1 and it is still there,
// else DoneByLog with BalanceAfter the balance our credit left; another
// terminal's: Void; gone or inconsistent: Uncertain); otherwise Uncertain.
//
// INITIALIZE FOR LOAD needs a PIN verified since the application was
// selected (card OSes refuse it with 6982 otherwise): with pin set,
// RecoverLoad presents the system PIN first (derived for the torn load's
// key version and algorithm); nil means the caller verified a PIN in this
// session.
func RecoverLoad(ctx context.Context, card reader.Card, auth LoadAuthorization, keyIndex byte, pin SystemPINSource) LoadOutcome {
	out := LoadOutcome{Kind: Uncertain, Auth: auth}
	fail := func(err error) LoadOutcome {
		out.Err = fmt.Errorf("epurse: recover load: %w", err)
		return out
	}
	pub, err := ReadPublicData(ctx, card)
	if err != nil {
		return fail(err)
	}
	if pub.Factor() != auth.CardSerial {
		return fail(ErrWrongCard)
	}
	if keyIndex == 0 {
		keyIndex = DefaultKeyIndex
	}
	if pin != nil {
		req := SystemPINRequest{CardSerial: auth.CardSerial, KeyVersion: auth.KeyVersion, Algorithm: auth.Algorithm}
		if err := presentSystemPIN(ctx, card, pin, req); err != nil {
			return fail(err)
		}
	}
	in, err := InitializeForLoad(ctx, card, keyIndex, 1, auth.TermID)
	if err != nil {
		return fail(err)
	}
	n := auth.OnlineCounter
	switch {
	case in.OnlineCounter == n:
		if in.Balance != auth.BalanceBefore {
			return fail(fmt.Errorf("online counter unchanged but balance %d, was %d before the credit: cannot tell", in.Balance, auth.BalanceBefore))
		}
		out.Kind = Void
		return out
	case in.OnlineCounter < n:
		return fail(fmt.Errorf("online counter %d, was %d before the credit: cannot tell", in.OnlineCounter, n))
	}
	k := int(in.OnlineCounter - n)
	ls, err := findLogged(ctx, card, TxLoad, k)
	if err != nil {
		return fail(err)
	}
	if ls.noLog {
		if k != 1 {
			return fail(fmt.Errorf("online counter %d, was %d before the credit, and the card keeps no log: cannot tell", in.OnlineCounter, n))
		}
		_, tac, err := GetTransactionProve(ctx, card, TxLoad, in.OnlineCounter)
		if err != nil {
			return fail(err)
		}
		out.Kind, out.TAC, out.BalanceAfter = Done, tac, in.Balance
		return out
	}
	if err := checkLogged(ls, k, n, "load", "online"); err != nil {
		return fail(err)
	}
	r := ls.rec
	out.LogRecord = r
	if r.TermID != auth.TermID || r.Amount != auth.Amount || r.Time != auth.Time {
		out.Kind = Void // another terminal's load took counter N
		return out
	}
	if k == 1 {
		_, tac, err := GetTransactionProve(ctx, card, TxLoad, in.OnlineCounter)
		switch {
		case err == nil:
			out.Kind, out.TAC, out.BalanceAfter = Done, tac, in.Balance
			return out
		case !errors.Is(err, ErrNoProof):
			return fail(err)
		}
	}
	out.Kind, out.BalanceAfter = DoneByLog, auth.BalanceBefore+auth.Amount
	return out
}
