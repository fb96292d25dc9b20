package ledger

import (
	"fmt"
	"time"

	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Card is what the ledger knows of a card's purse, from verified
// evidence: purchase-completed records with a good TAC and confirmed loads.
type Card struct {
	No             string    `json:"no"`
	Balance        int64     `json:"balance"`         // fen, after the last evidence
	OfflineCounter uint32    `json:"offline_counter"` // after the last purchase seen
	OnlineCounter  uint32    `json:"online_counter"`  // after the last load seen
	Updated        time.Time `json:"updated,omitzero"`
}

// noteCardPurchase updates the card's known balance from a verified
// purchase-completed record, unless newer evidence is held.
func noteCardPurchase(tx *bolt.Tx, r *protocol.Record) error {
	if !ValidCardNo(r.CardNo) {
		return nil
	}
	return updateCard(tx, r.CardNo, r.WallTime(), func(c *Card) bool {
		if r.CardCounter+1 < c.OfflineCounter {
			return false
		}
		c.Balance, c.OfflineCounter = r.BalanceAfter, r.CardCounter+1
		return true
	})
}

func updateCard(tx *bolt.Tx, no string, at time.Time, f func(*Card) bool) error {
	b := tx.Bucket(bucketCards)
	c := Card{No: no}
	if err := getJSON(b, []byte(no), &c); err != nil && err != ErrNotFound {
		return err
	}
	if !f(&c) {
		return nil
	}
	c.Updated = at.UTC()
	return putJSON(b, []byte(no), c)
}

// CardInfo returns what the ledger knows of a card (ErrNotFound).
func (l *Ledger) CardInfo(no string) (Card, error) {
	var c Card
	err := l.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketCards), []byte(no), &c) })
	if err != nil {
		return Card{}, fmt.Errorf("ledger: card %s: %w", no, err)
	}
	return c, nil
}
