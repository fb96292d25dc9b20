package synce2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

const deviceID = "pos-canteen-1-01"

// quiet is a logger for the ledger and the client; -v shows nothing of
// them unless a test fails and logs itself.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ledgerRig is a real ledger served over loopback HTTP whose database can
// be closed and reopened (a restart) while the server keeps its address.
type ledgerRig struct {
	t    testing.TB
	dir  string
	opts ledger.Options

	mu  sync.RWMutex // requests hold it for reading; a restart for writing
	l   *ledger.Ledger
	h   http.Handler
	srv *httptest.Server

	// wrap, if set, sits between the server and the ledger's handler
	// (bad-input tests tamper with answers there).
	wrap func(http.Handler) http.Handler
	// outage, if set, answers every request instead of the ledger.
	outage func(http.ResponseWriter)
}

// wrapAll puts the ledger out of service (every request answered by f) or,
// with nil, back in.
func (r *ledgerRig) wrapAll(f func(http.ResponseWriter)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outage = f
}

// setWrap installs a middleware in front of the ledger's handler.
func (r *ledgerRig) setWrap(f func(http.Handler) http.Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wrap = f
}

func newLedger(t testing.TB, opts ledger.Options) *ledgerRig {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	r := &ledgerRig{t: t, dir: t.TempDir(), opts: opts}
	r.open()
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := r.l.CheckConsistency(); err != nil {
			t.Errorf("ledger consistency: %v", err)
		}
		r.l.Close()
	})
	return r
}

func (r *ledgerRig) open() {
	l, err := ledger.Open(r.dir, r.opts)
	if err != nil {
		r.t.Fatalf("ledger open: %v", err)
	}
	h, err := ledger.NewServer(l)
	if err != nil {
		r.t.Fatalf("ledger server: %v", err)
	}
	r.l, r.h = l, h
}

func (r *ledgerRig) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.outage != nil {
		r.outage(w)
		return
	}
	h := r.h
	if r.wrap != nil {
		h = r.wrap(h)
	}
	h.ServeHTTP(w, req)
}

// restart closes the ledger's database and opens it again, as a ledger
// process restart does; requests wait meanwhile.
func (r *ledgerRig) restart() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.l.Close(); err != nil {
		r.t.Errorf("ledger close: %v", err)
	}
	r.open()
}

// ledger returns the open ledger (for assertions; not during a restart).
func (r *ledgerRig) ledger() *ledger.Ledger {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.l
}

// device is a terminal: its store, key and sync client.
type device struct {
	store  *offline.Store
	clock  *offlinetest.Clock
	signer *protocol.Signer
	client *syncclient.Client
}

type devOpts struct {
	batch int
	http  *http.Client
	url   string
}

func newDevice(t testing.TB, lr *ledgerRig, o devOpts) *device {
	t.Helper()
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
	s, _ := offlinetest.Open(t, offline.Options{DeviceID: deviceID, Clock: clk})
	return newDeviceWith(t, lr, s, clk, o)
}

func newDeviceWith(t testing.TB, lr *ledgerRig, s *offline.Store, clk *offlinetest.Clock, o devOpts) *device {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := protocol.NewSigner(deviceID, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	if o.url == "" {
		o.url = lr.srv.URL
	}
	src := s.SyncSource()
	c, err := syncclient.New(syncclient.Options{
		Ledger: o.url, DeviceID: deviceID, Signer: signer, HTTP: o.http,
		BatchSize: o.batch, Kind: protocol.DevicePOS, Firmware: "test",
		Journal: src, Status: src, Rules: src, Logger: quiet(),
		BackoffBase: time.Millisecond, BackoffMax: 4 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &device{store: s, clock: clk, signer: signer, client: c}
}

// enrol gets a token from the ledger and enrols the device with it.
func (d *device) enrol(t testing.TB, lr *ledgerRig) protocol.EnrolResponse {
	t.Helper()
	tok, _, err := lr.ledger().NewToken(deviceID, "pos")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.client.Enrol(context.Background(), tok)
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	return resp
}

// journal appends n records of mixed kinds.
func (d *device) journal(t testing.TB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		r := protocol.Record{Kind: protocol.KindGatePass, CardNo: fmt.Sprintf("2024%06d", i%1000), Credential: "card"}
		if i%3 == 1 {
			r = protocol.Record{Kind: protocol.KindGateDenied, CardNo: fmt.Sprintf("2023%06d", i%777), Credential: "qr", Reason: "lost"}
		}
		if _, err := d.store.Append(r); err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(time.Second)
	}
}

// checkLedgerHolds asserts that the ledger holds exactly the device's
// journal: every record byte-identical and in order, and its high-water
// mark and head equal to the journal head and the device's cursor.
func checkLedgerHolds(t testing.TB, lr *ledgerRig, d *device) {
	t.Helper()
	head, err := d.store.Head()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := d.store.SyncCursor()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := lr.ledger().Device(deviceID)
	if err != nil {
		t.Fatal(err)
	}
	if dev.HighWater != head.Seq || string(dev.Head) != string(head.Hash[:]) {
		t.Fatalf("ledger high-water %d, journal head %d", dev.HighWater, head.Seq)
	}
	if cur.Seq != dev.HighWater || cur.Hash != head.Hash {
		t.Fatalf("device cursor %d, ledger high-water %d", cur.Seq, dev.HighWater)
	}
	if dev.Stats.Records != head.Seq {
		t.Fatalf("ledger counted %d records, journal has %d (a record twice?)", dev.Stats.Records, head.Seq)
	}
	for after := uint64(0); after < head.Seq; after += 1000 {
		es, err := d.store.Records(after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			got, err := lr.ledger().Record(deviceID, e.Record.Seq)
			if err != nil || string(got) != string(e.Raw) {
				t.Fatalf("ledger record %d: %v, differs from the journal", e.Record.Seq, err)
			}
		}
	}
	if _, err := lr.ledger().Record(deviceID, head.Seq+1); err == nil {
		t.Fatalf("ledger holds a record %d beyond the journal", head.Seq+1)
	}
}

// backup returns a copy of the ledger's database, taken while it is
// closed (a restart).
func (r *ledgerRig) backup() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.l.Close(); err != nil {
		r.t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, ledger.DBFile))
	if err != nil {
		r.t.Fatal(err)
	}
	r.open()
	return b
}

// restore puts a backup back in place of the ledger's database, as an
// operator restoring an old backup does.
func (r *ledgerRig) restore(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.l.Close(); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, ledger.DBFile), b, 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.open()
}
