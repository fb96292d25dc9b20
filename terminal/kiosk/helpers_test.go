package kiosk_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/kiosk"
	"github.com/openykt/yktd/terminal/terminaltest"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

const kioskID = "kiosk-library-1"

var _ kiosk.Ledger = (*syncclient.Client)(nil)

// rig is a kiosk on a virtual reader with the software SAM, a real store
// in t.TempDir() and a real reference ledger over loopback HTTP, reached
// through a proxy the test can take down.
type rig struct {
	t      testing.TB
	ctx    context.Context
	clock  *offlinetest.Clock // the kiosk's and the ledger's
	ledger *ledgertest.Ledger
	down   *atomic.Bool // the ledger's link is down
	client *syncclient.Client
	store  *offline.Store
	path   string
	sam    *sam.Software
	rdr    *sim.Reader
	events chan reader.Event
	ui     *uitest.Sim
	cfg    config.Kiosk
	kiosk  *kiosk.Kiosk
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRig(t testing.TB) *rig {
	t.Helper()
	clock := offlinetest.NewClock(terminaltest.Now)
	tl := ledgertest.Start(t, ledgertest.Options{Now: clock.Now, Ledger: ledger.Options{Logger: quiet()}})
	target, err := url.Parse(tl.URL)
	if err != nil {
		t.Fatal(err)
	}
	down := &atomic.Bool{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			// The link is cut: the connection dies without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner(kioskID, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{Ledger: front.URL, DeviceID: kioskID, Signer: signer,
		Kind: protocol.DeviceKiosk, Firmware: "test", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tl.NewToken(kioskID, "kiosk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	path := filepath.Join(t.TempDir(), "yktd.db")
	store, err := offline.Open(path, offline.Options{DeviceID: kioskID, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, ctx: ctx, clock: clock, ledger: tl, down: down, client: c, store: store, path: path, sam: s,
		rdr: sim.NewReader("sim:kiosk", reader.TechISO14443A), events: make(chan reader.Event, 16), ui: uitest.New()}
	go func() { _ = r.rdr.Run(ctx, r.events) }()
	t.Cleanup(func() {
		cancel()
		offlinetest.CheckAndClose(t, r.store)
	})
	r.kiosk = r.newKiosk(r.store)
	return r
}

// newKiosk builds a kiosk on store and runs Startup.
func (r *rig) newKiosk(store kiosk.Store) *kiosk.Kiosk {
	r.t.Helper()
	k, err := kiosk.New(kiosk.Options{Store: store, Ledger: r.client, SAM: r.sam, Display: r.ui, Buzzer: r.ui,
		Now: r.clock.Now, Location: time.UTC, Config: r.cfg, Logger: quiet()})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := k.Startup(r.ctx); err != nil {
		r.t.Fatal(err)
	}
	return k
}

// reopen closes the store (as a power cut leaves it: every commit that
// returned is on disk) and opens it again with a fresh kiosk.
func (r *rig) reopen() {
	r.t.Helper()
	if err := r.store.Close(); err != nil {
		r.t.Fatal(err)
	}
	store, err := offline.Open(r.path, offline.Options{Clock: r.clock})
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = store
	r.kiosk = r.newKiosk(store)
}

// tap presents card and returns its handle once the reader reported it.
func (r *rig) tap(card *sim.Card) reader.Card {
	r.t.Helper()
	r.rdr.Tap(card)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.events:
			if e.Kind == reader.CardPresent {
				return e.Card
			}
		case <-deadline:
			r.t.Fatal("no CardPresent event")
		}
	}
}

// handle taps card and runs one claim.
func (r *rig) handle(card *sim.Card) kiosk.Result {
	r.t.Helper()
	res, err := r.kiosk.HandleCard(r.ctx, r.tap(card))
	if err != nil {
		r.t.Fatalf("HandleCard: %v", err)
	}
	r.rdr.Remove()
	return res
}

// addLoad puts amount in wait for card at the ledger.
func (r *rig) addLoad(card *sim.Card, amount int64) ledger.Load {
	r.t.Helper()
	ld, err := r.ledger.AddLoad(card.Profile().CardNumber(), amount, "bank transfer")
	if err != nil {
		r.t.Fatal(err)
	}
	return ld
}

// loadRecords returns the journal's load records.
func (r *rig) loadRecords() []protocol.Record {
	r.t.Helper()
	h, err := r.store.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	es, err := r.store.Records(0, int(h.Seq)+1)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []protocol.Record
	for _, e := range es {
		if e.Record.Kind == protocol.KindLoad {
			out = append(out, e.Record)
		}
	}
	return out
}

// intents returns the load intents left.
func (r *rig) intents() []offline.Load {
	r.t.Helper()
	ls, err := r.store.Loads()
	if err != nil {
		r.t.Fatal(err)
	}
	return ls
}

// demoCard and balance are terminaltest's.
var (
	demoCard = terminaltest.DemoCard
	balance  = terminaltest.Balance
)
