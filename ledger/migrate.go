package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout of ledger.db this program writes. Open
// migrates an older file in place (one transaction: all or nothing) and
// refuses a newer one.
//
//	1  the first layout
//	2  bucket sales: the completed sales by intent id, which reversals are
//	   checked against (filled from the journals held)
//	3  accounts (DESIGN.md 3.3): buckets accounts, cardacct, acctlog,
//	   transfers, simbank; loads gain an account. Nothing older changes:
//	   cards without an account keep their per-load rows (load add)
const schemaVersion = 3

// migrations[v] takes a file from schema v to v+1.
var migrations = map[uint64]func(tx *bolt.Tx) error{
	1: migrateSales,
	2: migrateAccounts,
}

// migrateAccounts makes the buckets of the accounts and fills what the
// ledger saw of each card (cardseen, cardctr) from every journal held
// (the verified purchases are those without a flagged TAC verdict). The
// cards of a schema-2 file have no account: their pending loads stay
// claimable as they were.
func migrateAccounts(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketAccounts, bucketCardAcct, bucketAcctLog, bucketTransfers, bucketSimBank, bucketCardCtr, bucketCardSeen} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketJournal).ForEach(func(sp, v []byte) error {
		jb := tx.Bucket(bucketJournal).Bucket(sp)
		if v != nil || jb == nil {
			return nil
		}
		device, _, _ := bytes.Cut(sp, []byte{0})
		tb := tx.Bucket(bucketTAC).Bucket(sp)
		return jb.ForEach(func(sk, raw []byte) error {
			r, err := protocol.DecodeRecord(raw)
			if err != nil {
				return fmt.Errorf("%s record %d: %w: %w", device, binary.BigEndian.Uint64(sk), ErrCorrupt, err)
			}
			verified := tb == nil || tb.Get(sk) == nil
			return noteCardSeen(tx, string(device), &r, verified)
		})
	})
}

// migrate brings the file in tx from schema from to schemaVersion.
func migrate(tx *bolt.Tx, from uint64) error {
	for v := from; v < schemaVersion; v++ {
		m, ok := migrations[v]
		if !ok {
			return fmt.Errorf("ledger: open: no migration from schema %d: %w", v, ErrCorrupt)
		}
		if err := m(tx); err != nil {
			return fmt.Errorf("ledger: open: migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, be64(schemaVersion))
}

// migrateSales fills the sales memory from the journals: every
// purchase-completed record with an intent id is a sale (TAC-verified
// unless its verdict was flagged), and the sale a purchase-reversed record
// names is marked reversed (schema 1 owed a load for every reversal, so
// none of them may owe a second).
func migrateSales(tx *bolt.Tx) error {
	devs := tx.Bucket(bucketDevices)
	return devs.ForEach(func(k, _ []byte) error {
		id := string(k)
		jb, _ := sub(tx, bucketJournal, id, false)
		if jb == nil {
			return nil
		}
		tb, _ := sub(tx, bucketTAC, id, false)
		sb, err := sub(tx, bucketSales, id, true)
		if err != nil {
			return err
		}
		return jb.ForEach(func(sk, raw []byte) error {
			r, err := protocol.DecodeRecord(raw)
			if err != nil {
				return fmt.Errorf("%s record %d: %w: %w", id, binary.BigEndian.Uint64(sk), ErrCorrupt, err)
			}
			switch r.Kind {
			case protocol.KindPurchaseCompleted:
				verdict := TACVerified
				if tb != nil {
					var f TACResult
					if err := getJSON(tb, be64(r.Seq), &f); err == nil {
						verdict = f.Result
					}
				}
				return noteSale(sb, &r, verdict)
			case protocol.KindPurchaseReversed:
				var s sale
				if r.IntentID == 0 || getJSON(sb, be64(r.IntentID), &s) != nil || s.Reversed != 0 {
					return nil
				}
				s.Reversed = r.Seq
				return putJSON(sb, be64(r.IntentID), s)
			}
			return nil
		})
	})
}
