package ledger

import (
	"bytes"
	"context"
	"fmt"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	bolt "go.etcd.io/bbolt"
)

// ProbeLoad settles the card's unsettled loads from the online counter
// its INITIALIZE FOR LOAD answer p shows (protocol.PathLoadProbe): the
// card's MAC1 proves the counter. A load authorised at a lower counter
// was credited (the counter moved: done, inferred); one authorised at
// this counter was not (a credit moves it, and this INITIALIZE killed
// that session's MAC2): it is released, its money claimable again. No
// MAC2 is given. It answers the card's Claims afterwards.
func (l *Ledger) ProbeLoad(p LoadInitParams) (protocol.Claims, error) {
	if !ValidCardNo(p.CardNo) || p.Amount == 0 {
		return protocol.Claims{}, fmt.Errorf("ledger: load probe: card %q amount %d: %w", p.CardNo, p.Amount, ErrMalformed)
	}
	alg := epurse.Algorithm(p.Algorithm)
	if alg != epurse.AlgDES && alg != epurse.AlgSM4 {
		return protocol.Claims{}, fmt.Errorf("ledger: load probe: card algorithm %s: %w", alg, ErrUnsupportedAlg)
	}
	if err := l.keys.VerifyLoadMAC1(context.Background(), p.session()); err != nil {
		return protocol.Claims{}, fmt.Errorf("ledger: load probe: card %s: MAC1 does not verify: %w: %w", p.CardNo, ErrMACInvalid, err)
	}
	now := l.now()
	var inferred, released int
	err := l.db.Update(func(tx *bolt.Tx) error {
		before, err := unsettledLoads(tx, p.CardNo)
		if err != nil {
			return err
		}
		if err := inferEarlierLoads(tx, p.CardNo, p.OnlineCounter, now); err != nil {
			return err
		}
		ib := tx.Bucket(bucketLoadInits)
		key := loadInitKey(p.CardNo, p.OnlineCounter)
		var li loadInit
		if err := getJSON(ib, key, &li); err == nil {
			var ld Load
			if err := getJSON(tx.Bucket(bucketLoads), be64(li.LoadID), &ld); err != nil {
				return err
			}
			if ld.State == LoadAuthorised && ld.OnlineCounter == p.OnlineCounter && uint32(ld.BalanceBefore) == p.BalanceBefore {
				if err := releaseLoad(tx, li.LoadID, now); err != nil {
					return err
				}
				if err := ib.Delete(key); err != nil {
					return err
				}
				released++
			}
		}
		after, err := unsettledLoads(tx, p.CardNo)
		inferred = before - after - released
		return err
	})
	if err != nil {
		return protocol.Claims{}, err
	}
	l.log.Info("load probe", "device", p.DeviceID, "card", p.CardNo, "counter", p.OnlineCounter,
		"inferred_done", inferred, "released", released)
	return l.Claims(p.CardNo, int64(p.BalanceBefore))
}

// unsettledLoads counts the card's loads authorised and not settled.
func unsettledLoads(tx *bolt.Tx, card string) (int, error) {
	ib := tx.Bucket(bucketLoadInits)
	prefix := append([]byte(card), 0)
	n := 0
	c := ib.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var li loadInit
		if err := getJSONBytes(v, &li); err != nil {
			return 0, err
		}
		var ld Load
		if err := getJSON(tx.Bucket(bucketLoads), be64(li.LoadID), &ld); err != nil {
			return 0, err
		}
		if ld.State == LoadAuthorised {
			n++
		}
	}
	return n, nil
}
