package ledger

import (
	"context"
	"fmt"

	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	bolt "go.etcd.io/bbolt"
)

// LoadConfirmParams is the card's answer to CREDIT FOR LOAD.
type LoadConfirmParams struct {
	DeviceID      string
	LoadID        uint64
	CardNo        string
	OnlineCounter uint16 // the counter of the authorised session (before the credit)
	TAC           [4]byte
	BalanceAfter  uint32
}

// ConfirmLoad checks the card's load TAC (epurse.LoadTAC under the card's
// DTK) for an authorised load and records it: the load is done and the
// card's balance known. Confirming again with the same TAC answers the
// same; a wrong TAC is ErrMACInvalid and changes nothing; an unknown load or
// one of another card or counter is ErrNoPendingLoad.
func (l *Ledger) ConfirmLoad(p LoadConfirmParams) (Load, error) {
	var out Load
	now := l.now().UTC()
	err := l.db.Update(func(tx *bolt.Tx) error {
		var ld Load
		if err := getJSON(tx.Bucket(bucketLoads), be64(p.LoadID), &ld); err != nil {
			return fmt.Errorf("ledger: load confirm %d: %w", p.LoadID, ErrNoPendingLoad)
		}
		if ld.CardNo != p.CardNo || (ld.State != LoadAuthorised && ld.State != LoadDone) || ld.OnlineCounter != p.OnlineCounter {
			return fmt.Errorf("ledger: load confirm %d: not authorised for card %s at counter %d: %w", p.LoadID, p.CardNo, p.OnlineCounter, ErrNoPendingLoad)
		}
		if ld.State == LoadDone && !ld.Inferred {
			if len(ld.TAC) != len(p.TAC) || !epurse.VerifyMAC([4]byte(ld.TAC), p.TAC) || ld.BalanceAfter != p.BalanceAfter {
				return fmt.Errorf("ledger: load confirm %d: a different TAC was confirmed: %w", p.LoadID, ErrMACInvalid)
			}
			out = ld
			return nil
		}
		err := l.keys.VerifyLoadTAC(context.Background(), keys.LoadTAC{
			Card:         keys.Card{KeyVersion: ld.KeyVersion, Algorithm: epurse.Algorithm(ld.Algorithm), Serial: [8]byte(ld.CardSerial)},
			BalanceAfter: p.BalanceAfter, OnlineCounter: ld.OnlineCounter, Amount: uint32(ld.Amount),
			TerminalID: [6]byte(ld.TerminalID), Time: epurse.DateTime(ld.TxTime), TAC: p.TAC})
		if err != nil {
			return fmt.Errorf("ledger: load confirm %d: TAC does not verify: %w: %w", p.LoadID, ErrMACInvalid, err)
		}
		if uint64(p.BalanceAfter) != uint64(ld.BalanceBefore)+uint64(ld.Amount) {
			return fmt.Errorf("ledger: load confirm %d: balance after %d is not %d + %d: %w", p.LoadID, p.BalanceAfter, ld.BalanceBefore, ld.Amount, ErrMalformed)
		}
		wasAuthorised := ld.State == LoadAuthorised
		ld.State, ld.Inferred, ld.TAC, ld.BalanceAfter, ld.Finished = LoadDone, false, p.TAC[:], p.BalanceAfter, now
		if err := putJSON(tx.Bucket(bucketLoads), be64(ld.ID), ld); err != nil {
			return err
		}
		if wasAuthorised {
			if err := settleAccountLoad(tx, &ld, now); err != nil {
				return err
			}
		}
		if err := updateCard(tx, ld.CardNo, now, func(c *Card) bool {
			if uint32(ld.OnlineCounter)+1 < c.OnlineCounter {
				return false
			}
			c.Balance, c.OnlineCounter = int64(p.BalanceAfter), uint32(ld.OnlineCounter)+1
			return true
		}); err != nil {
			return err
		}
		out = ld
		return nil
	})
	if err != nil {
		return Load{}, err
	}
	l.log.Info("load confirmed", "card", p.CardNo, "load", p.LoadID, "balance", p.BalanceAfter)
	return out, nil
}

// LoadStatus says what became of load id as far as device dev's own
// authorisation of it goes, for a device that could not settle it from
// the card (protocol.LoadStatusRequest): LoadCompleted, the card was
// credited in dev's session (confirmed, or inferred from a later online
// counter the card showed elsewhere); LoadInitiated, still unknown;
// LoadCancelled, dev's session credited nothing (voided, or the load
// was authorised again since, to another session at the same counter:
// the card had not been credited; or released by a probe). A load that
// is not the card's is ErrNoPendingLoad.
func (l *Ledger) LoadStatus(dev string, id uint64, card string) (protocol.LoadState, error) {
	ld, err := l.LoadByID(id)
	if err != nil || ld.CardNo != card {
		return 0, fmt.Errorf("ledger: load status %d: not a load of card %s: %w", id, card, ErrNoPendingLoad)
	}
	switch {
	case ld.Device != dev: // authorised again to another device, or released (no device)
		return protocol.LoadCancelled, nil
	case ld.State == LoadDone:
		return protocol.LoadCompleted, nil
	case ld.State == LoadAuthorised:
		return protocol.LoadInitiated, nil
	}
	return protocol.LoadCancelled, nil
}
