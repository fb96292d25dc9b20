package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openykt/yktd/ledger/keys"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	bolt "go.etcd.io/bbolt"
)

// Load states.
const (
	LoadPending    = "pending"    // money waits at the ledger for the card
	LoadAuthorised = "authorised" // MAC2 given for one card session; the credit may have happened
	LoadDone       = "done"       // the card's TAC was checked (or its counter proves the credit)
	LoadMerged     = "merged"     // claimed together with the card's other pending loads: see MergedInto
	LoadCancelled  = "cancelled"  // withdrawn by the operator before it reached the card
	// LoadVoided: an account's load authorised and never credited (the
	// card came back at the same online counter): the money went back to
	// the account.
	LoadVoided = "voided"
)

// Load is money waiting at the ledger for a card (圈存), and its fate.
type Load struct {
	ID      uint64    `json:"id"`
	CardNo  string    `json:"card_no"`
	Amount  int64     `json:"amount"` // fen
	Created time.Time `json:"created"`
	Source  string    `json:"source,omitempty"` // "operator", "reversal DEVICE/SEQ", "merged 3,4", ...
	State   string    `json:"state"`
	// MergedInto is the load that claimed this one with others (LoadMerged).
	MergedInto uint64 `json:"merged_into,omitempty"`
	// Account is the account the load was taken from ("": a load row of
	// a card without an account, made by AddLoad).
	Account string `json:"account,omitempty"`

	// Set when authorised (LoadInit).
	Device        string `json:"device,omitempty"`
	OnlineCounter uint16 `json:"online_counter,omitempty"`
	BalanceBefore uint32 `json:"balance_before,omitempty"`
	TerminalID    []byte `json:"terminal_id,omitempty"`
	TxTime        []byte `json:"tx_time,omitempty"`
	CardSerial    []byte `json:"card_serial,omitempty"`
	KeyVersion    byte   `json:"key_version,omitempty"`
	Algorithm     byte   `json:"algorithm,omitempty"`

	// Set when done.
	TAC          []byte    `json:"tac,omitempty"`
	BalanceAfter uint32    `json:"balance_after,omitempty"`
	Finished     time.Time `json:"finished,omitzero"`
	// Inferred: done because the card's online counter moved past the
	// authorised session without a confirmation (no TAC held).
	Inferred bool `json:"inferred,omitempty"`
}

// ValidCardNo reports whether s is acceptable as a card number: 1 to 32
// printable ASCII bytes without spaces (as the protocol's messages).
func ValidCardNo(s string) bool {
	if len(s) == 0 || len(s) > protocol.MaxCardNoLen {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

func pendingKey(card string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(card), 0), id)
}

func loadInitKey(card string, counter uint16) []byte {
	return binary.BigEndian.AppendUint16(append([]byte(card), 0), counter)
}

// AddLoad puts amount (fen) in wait for card: the next load at a kiosk or
// POS claims it. source says where the money came from.
func (l *Ledger) AddLoad(card string, amount int64, source string) (Load, error) {
	var ld Load
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		ld, err = addLoadTx(tx, card, amount, source, l.now())
		return err
	})
	if err == nil {
		l.log.Info("pending load added", "card", card, "amount", amount, "load", ld.ID, "source", source)
	}
	return ld, err
}

func addLoadTx(tx *bolt.Tx, card string, amount int64, source string, now time.Time) (Load, error) {
	if !ValidCardNo(card) {
		return Load{}, fmt.Errorf("ledger: load: card %q: %w", card, ErrInvalid)
	}
	if id := tx.Bucket(bucketCardAcct).Get([]byte(card)); id != nil && !strings.HasPrefix(source, "merged ") {
		return Load{}, fmt.Errorf("ledger: load: card %s belongs to account %s: its money goes to the account (ledgerd account topup): %w", card, id, ErrInvalid)
	}
	if amount <= 0 || amount > 0xFFFFFFFF {
		return Load{}, fmt.Errorf("ledger: load: amount %d: %w", amount, ErrInvalid)
	}
	id, err := nextSeq(tx, keyLoadSeq)
	if err != nil {
		return Load{}, err
	}
	ld := Load{ID: id, CardNo: card, Amount: amount, Created: now.UTC(), Source: source, State: LoadPending}
	if err := putJSON(tx.Bucket(bucketLoads), be64(id), ld); err != nil {
		return Load{}, err
	}
	return ld, tx.Bucket(bucketPendingIdx).Put(pendingKey(card, id), nil)
}

// CancelLoad withdraws a pending load (the money goes back another way).
// A load already authorised for a card session may have reached the card
// and cannot be cancelled (ErrInvalid); an unknown one is ErrNotFound.
func (l *Ledger) CancelLoad(id uint64) (Load, error) {
	var ld Load
	err := l.db.Update(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketLoads), be64(id), &ld); err != nil {
			return fmt.Errorf("ledger: cancel load %d: %w", id, err)
		}
		if ld.State != LoadPending {
			return fmt.Errorf("ledger: cancel load %d: it is %s: %w", id, ld.State, ErrInvalid)
		}
		ld.State, ld.Finished = LoadCancelled, l.now().UTC()
		if err := putJSON(tx.Bucket(bucketLoads), be64(id), ld); err != nil {
			return err
		}
		return tx.Bucket(bucketPendingIdx).Delete(pendingKey(ld.CardNo, id))
	})
	if err != nil {
		return Load{}, err
	}
	l.log.Info("pending load cancelled", "load", id, "card", ld.CardNo, "amount", ld.Amount)
	return ld, nil
}

// PendingLoads returns the loads waiting for card, oldest first.
func (l *Ledger) PendingLoads(card string) ([]Load, error) {
	var out []Load
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = pendingLoads(tx, card)
		return err
	})
	return out, err
}

func pendingLoads(tx *bolt.Tx, card string) ([]Load, error) {
	var out []Load
	prefix := append([]byte(card), 0)
	c := tx.Bucket(bucketPendingIdx).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := binary.BigEndian.Uint64(k[len(prefix):])
		var ld Load
		if err := getJSON(tx.Bucket(bucketLoads), be64(id), &ld); err != nil {
			return nil, fmt.Errorf("ledger: load %d: %w", id, err)
		}
		out = append(out, ld)
	}
	return out, nil
}

// LoadByID returns one load (ErrNotFound).
func (l *Ledger) LoadByID(id uint64) (Load, error) {
	var ld Load
	err := l.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketLoads), be64(id), &ld) })
	if err != nil {
		return Load{}, fmt.Errorf("ledger: load %d: %w", id, err)
	}
	return ld, nil
}

// LoadInitParams is a kiosk's INITIALIZE FOR LOAD answer forwarded to the
// ledger (what epurse.LoadAuthorization holds) with the card number.
type LoadInitParams struct {
	DeviceID      string
	CardNo        string
	CardSerial    [8]byte
	TerminalID    [6]byte
	OnlineCounter uint16
	BalanceBefore uint32
	Amount        uint32
	KeyIndex      byte
	KeyVersion    byte
	Algorithm     byte
	Random        [4]byte
	MAC1          [4]byte
	// TxTime is the kiosk's CREDIT FOR LOAD date-time (7-byte BCD,
	// protocol.LoadInit.TxTime), or nil for the ledger to pick it.
	TxTime []byte
}

// session is what the key service checks MAC1 and computes MAC2 over.
func (p LoadInitParams) session() keys.LoadSession {
	return keys.LoadSession{
		Card:   keys.Card{KeyVersion: p.KeyVersion, Algorithm: epurse.Algorithm(p.Algorithm), Serial: p.CardSerial},
		Random: p.Random, OnlineCounter: p.OnlineCounter, BalanceBefore: p.BalanceBefore, Amount: p.Amount,
		TerminalID: p.TerminalID, MAC1: p.MAC1,
	}
}

// LoadInitResult authorises one CREDIT FOR LOAD.
type LoadInitResult struct {
	LoadID uint64
	Amount uint32
	TxTime [7]byte // BCD date ‖ time the CREDIT FOR LOAD must carry
	MAC2   [4]byte
}

type loadInit struct {
	LoadID uint64 `json:"load_id"`
	Amount uint32 `json:"amount"`
	TxTime []byte `json:"tx_time"`
}

// InitLoad checks the card's load MAC1 with its diversified load key, takes
// the oldest pending load of the card with the requested amount (or, when
// the amount is the total of its pending loads, all of them merged into
// one) and returns
// MAC2 over amount ‖ 02 ‖ terminal id ‖ date ‖ time. It is idempotent by
// card and online counter: the same init again (or a retry of the same
// session after a new INITIALIZE) gets the same load and transaction time.
// A previously authorised load whose counter the card has since passed is
// marked done (inferred); one authorised at the same counter for another
// amount never credited and waits again.
//
// With p.TxTime (the time the kiosk will send in CREDIT FOR LOAD) MAC2 is
// computed over it and the result carries it unchanged; a new
// authorisation takes it only within protocol.LoadTimeSkew of the ledger's
// clock (read in the clock's time zone), else ErrMalformed and nothing
// changes. The same init again answers the same whatever the clock says;
// a new session at the same counter and amount with another time (a new
// INITIALIZE: the earlier MAC2 is dead) moves the authorised load to that
// time. Without p.TxTime the ledger picks its own time (the time of the
// first authorisation on a retry).
//
// Errors: ErrMACInvalid (MAC1 wrong or no issuer keys for the key
// version), ErrUnsupportedAlg, ErrNoPendingLoad, ErrMalformed.
func (l *Ledger) InitLoad(p LoadInitParams) (LoadInitResult, error) {
	if !ValidCardNo(p.CardNo) || p.Amount == 0 {
		return LoadInitResult{}, fmt.Errorf("ledger: load init: card %q amount %d: %w", p.CardNo, p.Amount, ErrMalformed)
	}
	now := l.now()
	kiosk, skewErr, err := kioskTxTime(p, now, l.opts.Location)
	if err != nil {
		return LoadInitResult{}, err
	}
	alg := epurse.Algorithm(p.Algorithm)
	if alg != epurse.AlgDES && alg != epurse.AlgSM4 {
		return LoadInitResult{}, fmt.Errorf("ledger: load init: card algorithm %s: %w", alg, ErrUnsupportedAlg)
	}
	ls := p.session()
	if err := l.keys.VerifyLoadMAC1(context.Background(), ls); err != nil {
		return LoadInitResult{}, fmt.Errorf("ledger: load init: card %s: MAC1 does not verify: %w: %w", p.CardNo, ErrMACInvalid, err)
	}
	var res LoadInitResult
	err = l.db.Update(func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketLoads)
		ib := tx.Bucket(bucketLoadInits)
		key := loadInitKey(p.CardNo, p.OnlineCounter)
		var li loadInit
		if err := getJSON(ib, key, &li); err == nil {
			if li.Amount == p.Amount && (kiosk == nil || bytes.Equal(li.TxTime, kiosk[:])) {
				res = LoadInitResult{LoadID: li.LoadID, Amount: li.Amount, TxTime: [7]byte(li.TxTime)}
				return nil
			}
			if skewErr != nil {
				return skewErr
			}
			if li.Amount == p.Amount {
				// A new session at the same counter for the same amount
				// with the kiosk's new time: the earlier MAC2 died with the
				// new INITIALIZE, so the authorised load moves to this time.
				moved, err := retimeLoad(tx, key, li, *kiosk)
				if err != nil {
					return err
				}
				res = LoadInitResult{LoadID: li.LoadID, Amount: li.Amount, TxTime: [7]byte(li.TxTime)}
				if moved {
					res.TxTime = *kiosk
				}
				return nil
			}
			// The card is back at the same counter asking for another
			// amount: the session authorised before never credited (the
			// counter would have moved) and its MAC2 died with the new
			// INITIALIZE, so that load waits again.
			if err := releaseLoad(tx, li.LoadID, now); err != nil {
				return err
			}
			if err := ib.Delete(key); err != nil {
				return err
			}
		}
		if skewErr != nil {
			return skewErr
		}
		if err := inferEarlierLoads(tx, p.CardNo, p.OnlineCounter, now); err != nil {
			return err
		}
		ld, err := l.claimTx(tx, p, now)
		if err != nil {
			return err
		}
		dt := epurse.NewDateTime(now)
		if kiosk != nil {
			dt = *kiosk
		}
		ld.State, ld.Device, ld.OnlineCounter, ld.BalanceBefore = LoadAuthorised, p.DeviceID, p.OnlineCounter, p.BalanceBefore
		ld.TerminalID, ld.TxTime, ld.CardSerial = p.TerminalID[:], dt[:], p.CardSerial[:]
		ld.KeyVersion, ld.Algorithm = p.KeyVersion, p.Algorithm
		if err := putJSON(lb, be64(ld.ID), ld); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPendingIdx).Delete(pendingKey(p.CardNo, ld.ID)); err != nil {
			return err
		}
		res = LoadInitResult{LoadID: ld.ID, Amount: p.Amount, TxTime: dt}
		return putJSON(ib, key, loadInit{LoadID: ld.ID, Amount: p.Amount, TxTime: dt[:]})
	})
	if err != nil {
		return LoadInitResult{}, err
	}
	res.MAC2, err = l.keys.LoadMAC2(context.Background(), ls, epurse.DateTime(res.TxTime))
	if err != nil {
		return LoadInitResult{}, fmt.Errorf("ledger: load init: MAC2: %w: %w", ErrMACInvalid, err)
	}
	l.log.Info("load authorised", "card", p.CardNo, "load", res.LoadID, "amount", p.Amount, "device", p.DeviceID,
		"counter", p.OnlineCounter, "tx_time", epurse.DateTime(res.TxTime).String(), "kiosk_time", kiosk != nil)
	return res, nil
}

// kioskTxTime decodes p.TxTime: nil when absent; skew is the refusal to
// give if it would start a new authorisation (too far from now); err when
// it is not a date-time at all.
func kioskTxTime(p LoadInitParams, now time.Time, loc *time.Location) (kiosk *epurse.DateTime, skew, err error) {
	if p.TxTime == nil {
		return nil, nil, nil
	}
	if loc == nil {
		loc = now.Location()
	}
	at, err := protocol.ParseTxTime(p.TxTime, loc)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: load init: card %s: %w: %w", p.CardNo, ErrMalformed, err)
	}
	dt := epurse.DateTime(p.TxTime)
	if d := at.Sub(now); d > protocol.LoadTimeSkew || d < -protocol.LoadTimeSkew {
		skew = fmt.Errorf("ledger: load init: card %s: kiosk time %s is %s from the ledger's clock, more than %s: %w",
			p.CardNo, dt, d.Round(time.Second), protocol.LoadTimeSkew, ErrMalformed)
	}
	return &dt, skew, nil
}

// retimeLoad moves the load authorised at key (li) to the kiosk's time dt,
// if it is still authorised; moved is false when it is not (it was
// settled: the answer stays the one given before).
func retimeLoad(tx *bolt.Tx, key []byte, li loadInit, dt epurse.DateTime) (moved bool, err error) {
	lb := tx.Bucket(bucketLoads)
	var ld Load
	if err := getJSON(lb, be64(li.LoadID), &ld); err != nil {
		return false, err
	}
	if ld.State != LoadAuthorised {
		return false, nil
	}
	ld.TxTime, li.TxTime = dt[:], dt[:]
	if err := putJSON(lb, be64(ld.ID), ld); err != nil {
		return false, err
	}
	return true, putJSON(tx.Bucket(bucketLoadInits), key, li)
}

// releaseLoad puts an authorised load back in wait (a merged one goes back
// to its parts; an account's goes back to the account, voided).
func releaseLoad(tx *bolt.Tx, id uint64, now time.Time) error {
	lb := tx.Bucket(bucketLoads)
	var ld Load
	if err := getJSON(lb, be64(id), &ld); err != nil {
		return err
	}
	if ld.State != LoadAuthorised {
		return nil
	}
	if ld.Account != "" {
		return voidAccountLoad(tx, &ld, now)
	}
	if strings.HasPrefix(ld.Source, "merged ") {
		for _, f := range strings.Split(strings.TrimPrefix(ld.Source, "merged "), ",") {
			var part Load
			if err := getJSON(lb, be64(parseID(f)), &part); err != nil || part.MergedInto != ld.ID {
				continue
			}
			part.State, part.MergedInto, part.Finished = LoadPending, 0, time.Time{}
			if err := putJSON(lb, be64(part.ID), part); err != nil {
				return err
			}
			if err := tx.Bucket(bucketPendingIdx).Put(pendingKey(part.CardNo, part.ID), nil); err != nil {
				return err
			}
		}
		ld.State, ld.Finished = LoadCancelled, time.Time{}
		return putJSON(lb, be64(ld.ID), ld)
	}
	ld = Load{ID: ld.ID, CardNo: ld.CardNo, Amount: ld.Amount, Created: ld.Created, Source: ld.Source, State: LoadPending}
	if err := putJSON(lb, be64(ld.ID), ld); err != nil {
		return err
	}
	return tx.Bucket(bucketPendingIdx).Put(pendingKey(ld.CardNo, ld.ID), nil)
}

func parseID(s string) uint64 {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// mergePending claims all of a card's pending loads at once when amount is
// their total (a kiosk loads everything waiting in one credit): a new load
// of the total takes their place and each is marked merged into it.
func mergePending(tx *bolt.Tx, card string, pend []Load, amount int64, now time.Time) (*Load, error) {
	var total int64
	for _, ld := range pend {
		total += ld.Amount
	}
	if len(pend) < 2 || total != amount {
		return nil, fmt.Errorf("ledger: load init: card %s: no pending load of %d fen (nor is it the total): %w", card, amount, ErrNoPendingLoad)
	}
	ids := make([]string, len(pend))
	for i, ld := range pend {
		ids[i] = fmt.Sprint(ld.ID)
	}
	m, err := addLoadTx(tx, card, amount, "merged "+strings.Join(ids, ","), now)
	if err != nil {
		return nil, err
	}
	for _, ld := range pend {
		ld.State, ld.MergedInto, ld.Finished = LoadMerged, m.ID, now.UTC()
		if err := putJSON(tx.Bucket(bucketLoads), be64(ld.ID), ld); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketPendingIdx).Delete(pendingKey(card, ld.ID)); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// inferEarlierLoads marks done the card's authorised loads of an online
// counter below counter: only the ledger gives MAC2, so the card's counter
// passing an authorised session means that session's credit happened.
func inferEarlierLoads(tx *bolt.Tx, card string, counter uint16, now time.Time) error {
	ib := tx.Bucket(bucketLoadInits)
	prefix := append([]byte(card), 0)
	c := ib.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ctr := binary.BigEndian.Uint16(k[len(prefix):])
		if ctr >= counter {
			break
		}
		var li loadInit
		if err := getJSONBytes(v, &li); err != nil {
			return err
		}
		var ld Load
		if err := getJSON(tx.Bucket(bucketLoads), be64(li.LoadID), &ld); err != nil {
			return err
		}
		if ld.State != LoadAuthorised || ld.OnlineCounter != ctr {
			continue
		}
		ld.State, ld.Inferred, ld.Finished = LoadDone, true, now.UTC()
		ld.BalanceAfter = ld.BalanceBefore + uint32(ld.Amount)
		if err := putJSON(tx.Bucket(bucketLoads), be64(ld.ID), ld); err != nil {
			return err
		}
		if err := settleAccountLoad(tx, &ld, now); err != nil {
			return err
		}
	}
	return nil
}
