package terminal_test

import (
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
	"github.com/openykt/yktd/terminal"
)

// TestMetricsClockSkew: a device whose clock runs 90 s ahead of the
// ledger's shows yktd_clock_skew_seconds ≈ +90 after its first upload was
// acknowledged (the ack's server time), and the PSAM that answered shows
// yktd_psam_up 1 with no errors.
func TestMetricsClockSkew(t *testing.T) {
	tl := ledgertest.Start(t, ledgertest.Options{})
	dev := tl.Enrol(t, "pos-daemon-01", protocol.DevicePOS)
	const ahead = 90 * time.Second
	clock := offlinetest.NewClock(time.Now().Add(ahead))
	dir := t.TempDir()
	store := openDaemonStore(t, filepath.Join(dir, "yktd.db"), clock)
	src := store.SyncSource()
	client, err := syncclient.New(syncclient.Options{Ledger: tl.URL, DeviceID: dev.ID, Signer: dev.Signer, LedgerKeys: tl.Keys(),
		Journal: src, Status: src, Rules: src, Interval: 50 * time.Millisecond, BackoffBase: 50 * time.Millisecond,
		BackoffMax: 200 * time.Millisecond, Clock: aheadClock{clock}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := client.ClockSkew(); ok {
		t.Fatal("ClockSkew before any upload: ok")
	}
	cfg := syncedConfig()
	cfg.Sync.Ledger = tl.URL
	cfg.Control.Listen = "127.0.0.1:0"
	r := startDaemon(t, cfg, store, clock, client)
	r.awaitHealth("working with the ledger's list", func(h terminal.Health) bool { return h.Working && h.StatusList.Version > 0 })
	if rec := r.tap(demoCard(t, "student", "", 0)); rec.Outcome != "paid" {
		t.Fatalf("sale: %+v", rec)
	}
	head := r.d.Health().Journal.Head
	r.awaitHealth("the sale uploaded", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })

	c, err := terminal.NewControlClient(dir, r.d.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	fams := scrapeMetrics(t, c)
	m := series(fams, "yktd_clock_skew_seconds", nil)
	if m == nil {
		t.Fatalf("no yktd_clock_skew_seconds after an acknowledged upload")
	}
	if got := m.GetGauge().GetValue(); math.Abs(got-ahead.Seconds()) > 10 {
		t.Errorf("yktd_clock_skew_seconds = %v, want about %v", got, ahead.Seconds())
	}
	if m := series(fams, "yktd_clock_skew_measured_timestamp_seconds", nil); m == nil || m.GetGauge().GetValue() <= 0 {
		t.Errorf("yktd_clock_skew_measured_timestamp_seconds: %v", m)
	}
	if m := series(fams, "yktd_psam_up", nil); m == nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("yktd_psam_up: %v, want 1 after a sale", m)
	}
	if m := series(fams, "yktd_psam_errors_total", nil); m == nil || m.GetCounter().GetValue() != 0 {
		t.Errorf("yktd_psam_errors_total: %v, want 0", m)
	}
}

// aheadClock is the test clock with real waits (the sync client's After).
type aheadClock struct{ *offlinetest.Clock }

func (aheadClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
