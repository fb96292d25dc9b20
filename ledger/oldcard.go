package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// Buckets of what the ledger saw of each card (schema 3), for the release
// of a replaced card's balance.
var (
	bucketCardCtr  = []byte("cardctr")  // card ‖ 0 ‖ be32 offline counter → nil: a verified purchase at that counter
	bucketCardSeen = []byte("cardseen") // card ‖ 0 ‖ device → nil: a device journaled the card
)

// DefaultMaxOffline is Options.MaxOffline's default: the devices'
// sync.max_offline.
const DefaultMaxOffline = 168 * time.Hour

// OldCardWait is the guide's minimum wait before a replaced card's balance
// moves to the account: 24 hours after the reissue.
const OldCardWait = 24 * time.Hour

func cardKey(card string, rest []byte) []byte { return append(append([]byte(card), 0), rest...) }

// noteCardSeen remembers, for a record of a card, the device that made it
// and, for a TAC-verified purchase, the offline counter it used.
func noteCardSeen(tx *bolt.Tx, device string, r *protocol.Record, verified bool) error {
	if !ValidCardNo(r.CardNo) {
		return nil
	}
	if err := tx.Bucket(bucketCardSeen).Put(cardKey(r.CardNo, []byte(device)), nil); err != nil {
		return err
	}
	if r.Kind == protocol.KindPurchaseCompleted && verified {
		return tx.Bucket(bucketCardCtr).Put(cardKey(r.CardNo, binary.BigEndian.AppendUint32(nil, r.CardCounter)), nil)
	}
	return nil
}

// counterGap returns the first offline counter below the highest seen
// whose verified purchase the ledger does not hold (ok false: none, every
// counter from 0 up to the last seen has its record).
func counterGap(tx *bolt.Tx, card string) (gap uint32, ok bool) {
	prefix := cardKey(card, nil)
	c := tx.Bucket(bucketCardCtr).Cursor()
	next := uint32(0)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+4 {
			continue
		}
		if ctr := binary.BigEndian.Uint32(k[len(prefix):]); ctr != next {
			return next, true
		}
		next++
	}
	return 0, false
}

// seenBy returns the devices that journaled card.
func seenBy(tx *bolt.Tx, card string) []string {
	var out []string
	prefix := cardKey(card, nil)
	c := tx.Bucket(bucketCardSeen).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// OldCardStatus says whether a replaced card's balance may move to its
// account now and, if not, why.
type OldCardStatus struct {
	Card     string `json:"card"`
	Released bool   `json:"released"`
	Amount   int64  `json:"amount,omitempty"` // released, or to release
	Waiting  string `json:"waiting,omitempty"`
}

// oldCardRelease decides on one old card of a: "" when its balance may be
// released now (amount), else why not. The rule: the card is cancelled on
// the status list, OldCardWait has passed since, the ledger knows its
// balance, and either its offline counter shows no gap (every counter up
// to the last seen has its verified record: no debit can be missing) or,
// failing that, max offline has passed since the cancellation and every
// device that journaled the card has uploaded since the cancellation (so
// it holds nothing of the card the ledger has not seen).
func (l *Ledger) oldCardRelease(tx *bolt.Tx, o accounts.OldCard, now time.Time) (amount int64, waiting string, err error) {
	if since := now.Sub(o.Cancelled); since < OldCardWait {
		return 0, fmt.Sprintf("cancelled %s ago, the balance moves after %s", since.Round(time.Minute), OldCardWait), nil
	}
	if v := tx.Bucket(bucketStatus).Get(statusKey(o.No)); len(v) == 0 || v[0] != ReasonCancelled {
		return 0, "not cancelled on the status list", nil
	}
	var c Card
	if err := getJSON(tx.Bucket(bucketCards), []byte(o.No), &c); err != nil {
		if err == ErrNotFound {
			return 0, "the ledger holds no verified record of the card's balance", nil
		}
		return 0, "", err
	}
	gap, hasGap := counterGap(tx, o.No)
	if !hasGap {
		return c.Balance, "", nil
	}
	maxOff := l.opts.MaxOffline
	if now.Sub(o.Cancelled) < maxOff {
		return 0, fmt.Sprintf("offline counter %d has no record at the ledger: waiting until %s (max offline %s after the cancellation)",
			gap, o.Cancelled.Add(maxOff).Format(time.RFC3339), maxOff), nil
	}
	for _, dev := range seenBy(tx, o.No) {
		d, err := getDevice(tx, dev)
		if err != nil {
			return 0, "", err
		}
		if !d.Stats.LastBatch.After(o.Cancelled) {
			return 0, fmt.Sprintf("offline counter %d has no record and device %s, which saw the card, has not uploaded since the cancellation", gap, dev), nil
		}
	}
	return c.Balance, "", nil
}

// releaseOldCardsTx credits a with the balances of its old cards that may
// be released now (once each) and returns each old card's status.
func (l *Ledger) releaseOldCardsTx(tx *bolt.Tx, a *accounts.Account, now time.Time) ([]OldCardStatus, error) {
	var out []OldCardStatus
	changed := false
	for i := range a.OldCards {
		o := &a.OldCards[i]
		if !o.Released.IsZero() {
			out = append(out, OldCardStatus{Card: o.No, Released: true, Amount: o.ReleasedAmount})
			continue
		}
		amount, waiting, err := l.oldCardRelease(tx, *o, now)
		if err != nil {
			return nil, err
		}
		if waiting != "" {
			out = append(out, OldCardStatus{Card: o.No, Waiting: waiting})
			continue
		}
		o.Released, o.ReleasedAmount, changed = now.UTC(), amount, true
		if amount > 0 {
			a.Credit(amount, true)
			if err := addEntry(tx, a, accounts.EntryOldCard, amount, o.No, now); err != nil {
				return nil, err
			}
		}
		l.log.Info("old card balance released", "account", a.ID, "card", o.No, "amount", amount)
		out = append(out, OldCardStatus{Card: o.No, Released: true, Amount: amount})
	}
	if changed {
		return out, putAccount(tx, a, now)
	}
	return out, nil
}

// ReleaseOldCards moves to account id the balances of its replaced cards
// that may be released now (see oldCardRelease) and says, for each, what
// it is waiting for. Claims and loads of the account do the same on the
// way (a kiosk or POS tap claims the old card's balance).
func (l *Ledger) ReleaseOldCards(id string) ([]OldCardStatus, error) {
	var out []OldCardStatus
	err := l.db.Update(func(tx *bolt.Tx) error {
		a, err := getAccount(tx, id)
		if err != nil {
			return err
		}
		out, err = l.releaseOldCardsTx(tx, &a, l.now())
		return err
	})
	return out, err
}

// pendingOldCard reports whether a has an old card not yet released.
func pendingOldCard(a *accounts.Account) bool {
	for _, o := range a.OldCards {
		if o.Released.IsZero() {
			return true
		}
	}
	return false
}
