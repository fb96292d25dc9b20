package terminal_test

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/terminal"
)

// TestDaemonUploadsAtShutdown: the sync round runs every hour, a sale
// comes between two rounds, the daemon is stopped: it uploads what is
// pending before it closes the store, and the ledger holds the sale.
func TestDaemonUploadsAtShutdown(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	dev := tl.Enrol(t, "pos-daemon-01", protocol.DevicePOS)
	clock := offlinetest.NewClock(time.Now())
	store := openDaemonStore(t, filepath.Join(t.TempDir(), "yktd.db"), clock)
	applySignedList(t, store, 1)
	src := store.SyncSource()
	var syncLog testbuf.Buffer
	client, err := syncclient.New(syncclient.Options{Ledger: tl.URL, DeviceID: dev.ID, Signer: dev.Signer, LedgerKeys: tl.Keys(),
		Journal: src, Status: src, Rules: src, Interval: time.Hour, Logger: slog.New(slog.NewTextHandler(&syncLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := syncedConfig()
	cfg.Sync.Ledger = tl.URL
	r := startDaemon(t, cfg, store, clock, client)
	r.awaitHealth("after the first round", func(h terminal.Health) bool { return h.Working && !h.Sync.LastContact.IsZero() })
	rec := r.tap(demoCard(t, "student", "", 0))
	if rec.Outcome != "paid" {
		t.Fatalf("sale %+v", rec)
	}
	done := rec.Intent + 1 // the completion follows its intent
	if h := r.d.Health(); h.Journal.AckedThrough >= done {
		t.Fatalf("the sale was uploaded before the stop (acked through %d): the test proves nothing", h.Journal.AckedThrough)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	raw, err := tl.Record(dev.ID, done)
	if err != nil {
		t.Fatalf("the ledger lacks the sale's completion (record %d) after the stop: %v\n%s", done, err, r.logs.String())
	}
	if c, err := protocol.DecodeRecord(raw); err != nil || c.Kind != protocol.KindPurchaseCompleted || c.IntentID != rec.Intent {
		t.Fatalf("record %d at the ledger: %+v, %v", done, c, err)
	}
	if !strings.Contains(syncLog.String(), "uploaded before stopping") {
		t.Errorf("the log does not tell of the upload at the stop:\n%s", syncLog.String())
	}
}

// TestDaemonShutdownLedgerUnreachable: a ledger that takes the connection
// and never answers (a dead proxy) holds the stop only for the upload
// bound, not for the request timeout (ten minutes here).
func TestDaemonShutdownLedgerUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // read nothing, answer nothing
		}
	}()
	url := "http://" + ln.Addr().String() + "/"
	hc, err := syncclient.NewHTTPClient(url, syncclient.TransportOptions{RequestTimeout: 10 * time.Minute, ResponseHeaderTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	dev := ledgertest.NewDevice(t, "pos-daemon-01")
	clock := offlinetest.NewClock(time.Now())
	store := openDaemonStore(t, filepath.Join(t.TempDir(), "yktd.db"), clock)
	applySignedList(t, store, 1)
	src := store.SyncSource()
	client, err := syncclient.New(syncclient.Options{Ledger: url, DeviceID: dev.ID, Signer: dev.Signer, HTTP: hc,
		LedgerKeys: protocol.NewKeys(ledgertest.NewDevice(t, "ledger-1").Signer.PublicKey()),
		Journal:    src, Status: src, Rules: src, Interval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := syncedConfig()
	cfg.Sync.Ledger = url
	r := startDaemon(t, cfg, store, clock, client)
	if rec := r.tap(demoCard(t, "student", "", 0)); rec.Outcome != "paid" {
		t.Fatalf("sale %+v", rec)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "not uploaded before stopping") {
		t.Errorf("the log does not say the journal waits for the next start:\n%s", logs)
	}
}
