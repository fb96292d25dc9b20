package ledger_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
)

// clock is the ledger's fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 9, 14, 12, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func start(t *testing.T) (*ledgertest.Ledger, *clock) {
	t.Helper()
	c := newClock()
	return ledgertest.Start(t, ledgertest.Options{Now: c.Now}), c
}

// simCard makes a virtual card a reader.Card.
type simCard struct{ c *sim.Card }

func (s simCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) { return s.c.Respond(cmd) }

// terminal is a POS in a test: a real offline store (journal, intents), a
// software SAM with the test keys and a virtual card.
type terminal struct {
	t     *testing.T
	store *offline.Store
	sam   *sam.Software
	card  simCard
	pub   epurse.PublicData
	clock *offlinetest.Clock
}

func newTerminal(t *testing.T, deviceID, demo string) *terminal {
	t.Helper()
	oc := offlinetest.NewClock(time.Date(2026, 9, 14, 11, 45, 0, 0, time.UTC))
	st, _ := offlinetest.Open(t, offline.Options{DeviceID: deviceID, Clock: oc})
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	tm := &terminal{t: t, store: st, sam: s, clock: oc}
	tm.tap(demo)
	return tm
}

// tap presents a fresh demo card and reads its public data.
func (tm *terminal) tap(demo string) {
	tm.t.Helper()
	c, err := sim.NewDemoCard(demo)
	if err != nil {
		tm.t.Fatal(err)
	}
	tm.card = simCard{c}
	ctx := context.Background()
	if _, err := epurse.Select(ctx, tm.card, sim.DefaultAID); err != nil {
		tm.t.Fatal(err)
	}
	if tm.pub, err = epurse.ReadPublicData(ctx, tm.card); err != nil {
		tm.t.Fatal(err)
	}
}

// buy runs a real purchase on the virtual card with a durable intent and
// journals its completion; tamper flips a bit of the TAC journaled.
func (tm *terminal) buy(amount uint32, tamper bool) {
	tm.t.Helper()
	tm.clock.Advance(time.Minute)
	var in offline.Intent
	dt := epurse.NewDateTime(tm.clock.Now())
	out := epurse.Pay(context.Background(), tm.card, tm.sam, epurse.PurchaseRequest{Amount: amount, Time: dt, CardSerial: tm.pub.Factor()},
		func(p epurse.Pending) error {
			var err error
			in, err = tm.store.OpenIntent(offline.PurchaseIntent{
				CardNo: tm.pub.CardNumber(), Amount: int64(p.Amount), BalanceBefore: int64(p.BalanceBefore),
				CardCounter: uint32(p.OfflineCounter), TerminalID: p.TermID[:], TerminalSeq: p.TermSeq, TxTime: p.Time[:],
				CardSerial: p.CardSerial[:], KeyIndex: p.KeyIndex, KeyVersion: p.KeyVersion, Algorithm: byte(p.Algorithm), MAC1: p.MAC1[:],
			})
			return err
		})
	if out.Kind != epurse.Done || !out.MAC2Verified {
		tm.t.Fatalf("purchase: %v %v", out.Kind, out.Err)
	}
	tac := out.TAC
	if tamper {
		tac[0] ^= 0x01
	}
	if _, err := tm.store.CompleteIntent(in.ID, offline.Completion{BalanceAfter: int64(out.BalanceAfter), TAC: tac[:], MAC2: out.MAC2[:]}); err != nil {
		tm.t.Fatal(err)
	}
}

// gate journals n gate passes (records without money).
func (tm *terminal) gate(n int) {
	tm.t.Helper()
	for range n {
		tm.clock.Advance(time.Second)
		if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: tm.pub.CardNumber(), Credential: "card"}); err != nil {
			tm.t.Fatal(err)
		}
	}
}

// entries returns the journal records first..last.
func (tm *terminal) entries(first, last uint64) []offline.Entry {
	tm.t.Helper()
	es, err := tm.store.Records(first-1, int(last-first+1))
	if err != nil || uint64(len(es)) != last-first+1 {
		tm.t.Fatalf("records %d..%d: %d, %v", first, last, len(es), err)
	}
	return es
}

// batch builds the batch of records first..last.
func (tm *terminal) batch(no, first, last uint64) protocol.Batch {
	tm.t.Helper()
	es := tm.entries(first, last)
	prev := tm.store.Genesis()
	if first > 1 {
		prev = tm.entries(first-1, first-1)[0].Hash
	}
	raws := make([][]byte, len(es))
	for i, e := range es {
		raws[i] = e.Raw
	}
	b, err := protocol.NewBatch(tm.store.DeviceID(), no, prev, raws)
	if err != nil {
		tm.t.Fatal(err)
	}
	return b
}

// upload posts a sealed batch and returns the ack or the error answer.
func upload(t *testing.T, tl *ledgertest.Ledger, dev *ledgertest.Device, b protocol.Batch) (protocol.Ack, *protocol.Error) {
	t.Helper()
	return uploadRaw(t, tl, dev.ID, dev.Seal(t, &b))
}

func uploadRaw(t *testing.T, tl *ledgertest.Ledger, dev string, msg []byte) (protocol.Ack, *protocol.Error) {
	t.Helper()
	status, body := tl.Post(t, "/v1/batches", msg)
	if status != http.StatusOK {
		e := ledgertest.ErrorOf(body)
		if e == nil {
			t.Fatalf("HTTP %d without an Error body", status)
		}
		return protocol.Ack{}, e
	}
	ack, _, err := protocol.Open[protocol.Ack](tl.Keys(), body, dev)
	if err != nil {
		t.Fatalf("open ack: %v", err)
	}
	return ack, nil
}

// wantCode fails unless e carries code.
func wantCode(t *testing.T, e *protocol.Error, code protocol.Code) {
	t.Helper()
	if e == nil || e.Code != code {
		t.Fatalf("got error %v, want code %v", e, code)
	}
}

func device(t *testing.T, tl *ledgertest.Ledger, id string) ledger.Device {
	t.Helper()
	d, err := tl.Device(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func isNotFound(err error) bool { return errors.Is(err, ledger.ErrNotFound) }
