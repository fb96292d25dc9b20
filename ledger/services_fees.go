package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/protocol"
	bolt "go.etcd.io/bbolt"
)

// 网费 / 电费: a service paid from the holder's account, exactly once by
// the order id the device gives it.

var (
	bucketFeeOrders = []byte("feeorders") // order id → JSON FeeOrder
	bucketFeeTotals = []byte("feetotals") // service → be64 fen credited to it
)

var keyFeeSeq = []byte("feeseq")

// FeeServices are the services a fee may pay.
var FeeServices = map[string]string{"net": "网费 network", "electricity": "电费 electricity"}

// MaxFee bounds one fee payment (fen): 500.00 yuan.
const MaxFee = 50000

// FeeOrder is a fee payment as the ledger keeps it.
type FeeOrder struct {
	OrderID   string    `json:"order_id"`
	Receipt   string    `json:"receipt"` // F-n
	Service   string    `json:"service"`
	Reference string    `json:"reference"`
	Amount    int64     `json:"amount"`
	Account   string    `json:"account"`
	Card      string    `json:"card"`
	Device    string    `json:"device"`
	Operator  string    `json:"operator,omitempty"`
	Time      time.Time `json:"time"`
}

func (o *FeeOrder) wire() *protocol.FeeOrder {
	return &protocol.FeeOrder{OrderID: o.OrderID, Service: o.Service, Reference: o.Reference, Amount: o.Amount,
		State: protocol.FeeOrderDone, Time: o.Time.UnixMilli(), Receipt: o.Receipt, Account: o.Account}
}

func getFeeOrder(tx *bolt.Tx, id string) (*FeeOrder, error) {
	var o FeeOrder
	if err := getJSON(tx.Bucket(bucketFeeOrders), []byte(id), &o); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("ledger: fee order %q: %w", id, err)
	}
	return &o, nil
}

// payFee pays Amount from the card's account to Service for Reference
// (a room, a meter) under the device's order id, with the PIN. The order
// id makes it exactly once whatever the request id: an order already
// paid answers the same order (a kiosk that lost the answer asks again,
// under any request id), one reused for another payment is malformed.
// A spend-only account may pay (it spends its money); lost, frozen,
// overdrawn-frozen, cancelled, dormant and expired accounts may not.
func (l *Ledger) payFee(tx *bolt.Tx, t *trade) error {
	r := t.req
	a, err := cardAccount(tx, r.CardNo)
	if err != nil {
		return err
	}
	t.ans.Account = a.ID
	o, err := getFeeOrder(tx, r.OrderID)
	if err != nil {
		return err
	}
	if o != nil {
		if o.Account != a.ID || o.Service != r.Service || o.Reference != r.Reference || o.Amount != r.Amount {
			return fmt.Errorf("ledger: fee order %s is another payment: %w", r.OrderID, ErrMalformed)
		}
		t.describe(&a)
		t.ans.Order = o.wire()
		return nil
	}
	if _, ok := FeeServices[r.Service]; !ok {
		return fmt.Errorf("ledger: fee: unknown service %q: %w", r.Service, ErrMalformed)
	}
	if r.Amount > MaxFee {
		return fmt.Errorf("ledger: fee %s above %s: %w", Yuan(r.Amount), Yuan(MaxFee), ErrAmountLimit)
	}
	if err := a.SpendRefusal(t.now); err != nil {
		return fmt.Errorf("ledger: fee: account %s: %w", a.ID, err)
	}
	if err := l.holderPIN(tx, &a, r.PIN, t.now); err != nil {
		return err
	}
	if err := a.Spend(r.Amount); err != nil {
		return fmt.Errorf("ledger: fee: account %s: %w", a.ID, err)
	}
	n, err := nextSeq(tx, keyFeeSeq)
	if err != nil {
		return err
	}
	o = &FeeOrder{OrderID: r.OrderID, Receipt: "F-" + strconv.FormatUint(n, 10), Service: r.Service, Reference: r.Reference,
		Amount: r.Amount, Account: a.ID, Card: a.Card, Device: t.device, Operator: r.Operator, Time: t.now.UTC()}
	if err := putAccount(tx, &a, t.now); err != nil {
		return err
	}
	if err := addEntry(tx, &a, accounts.EntryFee, -r.Amount, o.Receipt+" "+r.Service+" "+r.Reference, t.now); err != nil {
		return err
	}
	if err := putJSON(tx.Bucket(bucketFeeOrders), []byte(o.OrderID), o); err != nil {
		return err
	}
	tb := tx.Bucket(bucketFeeTotals)
	if err := tb.Put([]byte(r.Service), be64(getU64(tb, []byte(r.Service))+uint64(r.Amount))); err != nil {
		return err
	}
	t.describe(&a)
	t.ans.Order = o.wire()
	return nil
}

// feeOrder answers a fee order by its id (unknown-ref).
func (l *Ledger) feeOrder(tx *bolt.Tx, t *trade) error {
	o, err := getFeeOrder(tx, t.req.OrderID)
	if err != nil {
		return err
	}
	if o == nil {
		return fmt.Errorf("ledger: fee order %q: %w", t.req.OrderID, ErrUnknownRef)
	}
	t.ans.Account, t.ans.Order = o.Account, o.wire()
	return nil
}

// FeeOrderByID returns a fee order (ErrUnknownRef).
func (l *Ledger) FeeOrderByID(id string) (FeeOrder, error) {
	var o *FeeOrder
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		o, err = getFeeOrder(tx, id)
		return err
	})
	if err == nil && o == nil {
		err = fmt.Errorf("ledger: fee order %q: %w", id, ErrUnknownRef)
	}
	if err != nil {
		return FeeOrder{}, err
	}
	return *o, nil
}

// FeeTotals returns what each service was credited (fen), each order
// once.
func (l *Ledger) FeeTotals() (map[string]int64, error) {
	out := map[string]int64{}
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFeeTotals).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("ledger: fee total %q: %w", k, ErrCorrupt)
			}
			out[string(k)] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	return out, err
}
