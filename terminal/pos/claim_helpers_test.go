package pos_test

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

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/accounts"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/load"
	"github.com/openykt/yktd/terminal/pos"
)

var _ pos.Ledger = (*syncclient.Client)(nil)

// Modes of the link between a device and the ledger (link.mode).
const (
	linkUp   = iota
	linkDown // the connection dies without an answer
	linkSlow // no answer until the device gives up (its deadline)
)

// link is a loopback proxy in front of the real ledger that the test can
// take down or make slow.
type link struct {
	url  string
	mode atomic.Int32
	// claims counts the claims questions that reached the proxy.
	claims atomic.Int32
}

func newLink(t testing.TB, target string) *link {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l := &link{}
	stop := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(u)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathClaims || r.URL.Path == "/"+protocol.PathClaims {
			l.claims.Add(1)
		}
		switch l.mode.Load() {
		case linkDown:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusBadGateway)
			return
		case linkSlow:
			select {
			case <-r.Context().Done(): // the device's deadline ends the request
			case <-stop:
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Cleanup(func() { close(stop) })
	l.url = front.URL
	return l
}

// enrolClient enrols device id of kind with the ledger and returns its
// client, reaching the ledger through base.
func enrolClient(t testing.TB, tl *ledgertest.Ledger, base, id string, kind protocol.DeviceKind) *syncclient.Client {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner(id, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := syncclient.New(syncclient.Options{Ledger: base, DeviceID: id, Signer: signer, Kind: kind,
		Firmware: "test", Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tl.NewToken(id, kind.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), tok); err != nil {
		t.Fatalf("enrol %s: %v", id, err)
	}
	return c
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// claimRig is the POS rig with a real reference ledger over loopback
// HTTP, reached through a link the test controls, with the demo accounts
// (ledger.SeedDemo).
type claimRig struct {
	*rig
	tl   *ledgertest.Ledger
	link *link
	cli  *syncclient.Client
}

const posID = "pos-test-01"

func newClaimRig(t testing.TB, cfg config.POS) *claimRig {
	t.Helper()
	r := newRig(t, cfg)
	tl := ledgertest.Start(t, ledgertest.Options{Now: r.clock.Now, Ledger: ledger.Options{Logger: quietLog()}})
	if err := ledger.SeedDemo(tl.Ledger); err != nil {
		t.Fatal(err)
	}
	lk := newLink(t, tl.URL)
	cr := &claimRig{rig: r, tl: tl, link: lk, cli: enrolClient(t, tl, lk.url, posID, protocol.DevicePOS)}
	r.link = cr.cli
	r.pos = r.newPOS(r.store)
	return cr
}

// account is the account of card at the ledger.
func (r *claimRig) account(card *sim.Card) accounts.View {
	r.t.Helper()
	rep, err := r.tl.ShowAccount(card.Profile().CardNumber())
	if err != nil {
		r.t.Fatal(err)
	}
	return rep.Account
}

// loads are the ledger's loads of card, by state.
func (r *claimRig) loadsOf(card *sim.Card) map[string][]ledger.Load {
	r.t.Helper()
	out := map[string][]ledger.Load{}
	for id := uint64(1); ; id++ {
		ld, err := r.tl.LoadByID(id)
		if err != nil {
			break
		}
		if ld.CardNo == card.Profile().CardNumber() {
			out[ld.State] = append(out[ld.State], ld)
		}
	}
	return out
}

// loadRecords counts the journal's load records.
func (r *claimRig) loadRecords() []protocol.Record {
	var out []protocol.Record
	for _, rec := range r.records() {
		if rec.Kind == protocol.KindLoad {
			out = append(out, rec)
		}
	}
	return out
}

// noLoadIntents fails unless the POS holds no load intent.
func (r *claimRig) noLoadIntents() {
	r.t.Helper()
	ls, err := r.store.Loads()
	if err != nil {
		r.t.Fatal(err)
	}
	if len(ls) != 0 {
		r.t.Fatalf("load intents left: %+v", ls)
	}
}

// kioskEngine is a second device, a kiosk with its own store and PSAM,
// running the same claim engine on the rig's reader.
type kioskEngine struct {
	engine *load.Engine
	store  *offline.Store
}

func (r *claimRig) newKiosk() *kioskEngine {
	r.t.Helper()
	store, err := offline.Open(filepath.Join(r.t.TempDir(), "kiosk.db"), offline.Options{DeviceID: "kiosk-1", Clock: r.clock})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = store.Close() })
	keys := sam.TestKeys()
	keys.TerminalID = [6]byte{0, 0, 0, 0, 0, 0xC1}
	s, err := sam.NewSoftware(keys)
	if err != nil {
		r.t.Fatal(err)
	}
	cli := enrolClient(r.t, r.tl, r.tl.URL, "kiosk-1", protocol.DeviceKiosk)
	e, err := load.New(load.Options{Store: store, Ledger: cli, Lister: cli, SAM: s, Now: r.clock.Now, Logger: quietLog()})
	if err != nil {
		r.t.Fatal(err)
	}
	return &kioskEngine{engine: e, store: store}
}
