package terminal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/config"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui"
	"github.com/openykt/yktd/terminal/ui/uitest"
	bolt "go.etcd.io/bbolt"
)

// daemonRig is a running daemon (a canteen POS) on a virtual reader with a
// real store, its clock in the test's hands.
type daemonRig struct {
	t     *testing.T
	d     *terminal.Daemon
	store *offline.Store
	clock *offlinetest.Clock
	rdr   *sim.Reader
	disp  *uitest.Sim
	logs  *testbuf.Buffer
	seen  uint64
	// stop stops the daemon (as SIGTERM does) and returns Run's error.
	stop func() error
}

// openDaemonStore opens a new store of the rig's device at dir on clock.
func openDaemonStore(t *testing.T, path string, clock *offlinetest.Clock) *offline.Store {
	t.Helper()
	store, err := offline.Open(path, offline.Options{DeviceID: "pos-daemon-01", Clock: clock, GroupCommitDelay: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// startDaemon runs a daemon of cfg on store until the test ends.
func startDaemon(t *testing.T, cfg *config.Config, store *offline.Store, clock *offlinetest.Clock, syncer terminal.Syncer) *daemonRig {
	t.Helper()
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	r := &daemonRig{t: t, store: store, clock: clock, rdr: sim.NewReader("sim:pos", reader.TechISO14443A),
		disp: uitest.New(), logs: &testbuf.Buffer{}}
	deps := terminal.DaemonDeps{Store: store, Readers: []reader.Reader{r.rdr}, SAM: s, Display: r.disp, Keypad: r.disp,
		Now: clock.Now, Logger: slog.New(slog.NewTextHandler(r.logs, nil))}
	if syncer != nil {
		deps.Sync = syncer
		if l, ok := syncer.(terminal.Ledger); ok {
			deps.Ledger = l // a POS claims before the sale through it
		}
	}
	r.d, err = terminal.NewDaemon(cfg, deps)
	if err != nil {
		_ = store.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("Run did not return within 30s of the stop")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// tap presents card, waits for the daemon's record of the tap, takes the
// card away and returns the record.
func (r *daemonRig) tap(card *sim.Card) terminal.TapRecord {
	r.t.Helper()
	r.rdr.Tap(card)
	defer r.rdr.Remove()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if recs := r.d.Taps(r.seen); len(recs) > 0 {
			r.seen = recs[0].N
			return recs[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatal("the daemon reported no tap")
	return terminal.TapRecord{}
}

// awaitHealth polls the daemon's health until ok accepts it.
func (r *daemonRig) awaitHealth(what string, ok func(terminal.Health) bool) terminal.Health {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var h terminal.Health
	for time.Now().Before(deadline) {
		if h = r.d.Health(); ok(h) {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("health never %s: %+v", what, h)
	return h
}

func holdCodes(h terminal.Health) []string {
	var out []string
	for _, x := range h.Holds {
		out = append(out, x.Code)
	}
	return out
}

// syncedConfig is the canteen POS with a ledger configured and the
// default offline limit.
func syncedConfig() *config.Config {
	cfg := daemonConfig("")
	cfg.Sync = config.Sync{Ledger: "http://127.0.0.1:9/", Insecure: true, MaxOffline: config.Duration(config.DefaultMaxOffline)}
	return cfg
}

// TestDaemonOfflineTooLong: past sync.max_offline without an exchange
// with the ledger (counted from the one the store recorded, across the
// restart) the POS refuses new sales with a message the cashier
// understands, and /v1/health says so; the next exchange lifts it.
func TestDaemonOfflineTooLong(t *testing.T) {
	clock := offlinetest.NewClock(testNow)
	store := openDaemonStore(t, filepath.Join(t.TempDir(), "yktd.db"), clock)
	applySignedList(t, store, 1)
	last := testNow.Add(-7*24*time.Hour - time.Minute)
	if err := store.RecordContact(last); err != nil {
		t.Fatal(err)
	}
	r := startDaemon(t, syncedConfig(), store, clock, nil)
	card := demoCard(t, "student", "", 0)
	rec := r.tap(card)
	if rec.Outcome != "refused" || rec.Code != string(policy.CodeOfflineTooLong) || balance(card) != 10000 {
		t.Fatalf("sale after 7 days offline: %+v (balance %d)", rec, balance(card))
	}
	if m := r.disp.Shown(); !strings.Contains(lastOf(m).ZH, "离线超过7天") || !strings.Contains(lastOf(m).EN, "Offline over 7 days") {
		t.Fatalf("display %v", lastOf(m))
	}
	h := r.d.Health()
	if h.Working || len(h.Holds) != 1 || h.Holds[0].Code != string(policy.CodeOfflineTooLong) || h.Holds[0].Gate ||
		!h.Sync.LastContact.Equal(last) || h.Sync.MaxOffline != "168h0m0s" {
		t.Fatalf("health %+v", h)
	}

	if err := store.RecordContact(clock.Now()); err != nil { // what the sync client does
		t.Fatal(err)
	}
	r.awaitHealth("working again", func(h terminal.Health) bool { return h.Working && len(h.Holds) == 0 })
	clock.Advance(time.Minute)
	if rec := r.tap(card); rec.Outcome != "paid" {
		t.Fatalf("sale after the contact: %+v", rec)
	}
}

func lastOf(ms []ui.Message) ui.Message {
	if len(ms) == 0 {
		return ui.Message{}
	}
	return ms[len(ms)-1]
}

// TestDaemonBrokenChainTakesNoMoney: a store whose journal was changed on
// the card (a byte of record 2 altered through bbolt) starts, but takes no
// money: the display, the log and /v1/health name the broken record.
func TestDaemonBrokenChainTakesNoMoney(t *testing.T) {
	clock := offlinetest.NewClock(testNow)
	path := filepath.Join(t.TempDir(), "yktd.db")
	store := openDaemonStore(t, path, clock)
	applySignedList(t, store, 1) // record 1
	for range 3 {                // records 2, 3, 4
		if _, err := store.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "2024000001"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("journal"))
		key := []byte{0, 0, 0, 0, 0, 0, 0, 2}
		v := bytes.Clone(b.Get(key))
		i := bytes.Index(v, []byte("2024000001"))
		if i < 0 {
			t.Fatal("record 2 has no card number")
		}
		v[i+9] = '9' // still a valid record: only the chain tells
		return b.Put(key, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	r := startDaemon(t, daemonConfig(""), openDaemonStore(t, path, clock), clock, nil)
	h := r.d.Health()
	if h.Working || len(h.Holds) != 1 || h.Holds[0].Code != string(policy.CodeChainBroken) || h.Holds[0].Seq != 3 ||
		h.Journal.ChainOK || h.Journal.BrokenAt != 3 || !strings.Contains(h.Holds[0].EN, "record 3") {
		t.Fatalf("health of a broken chain %+v", h)
	}
	card := demoCard(t, "student", "", 0)
	rec := r.tap(card)
	if rec.Outcome != "refused" || rec.Code != string(policy.CodeChainBroken) || balance(card) != 10000 {
		t.Fatalf("sale on a broken chain: %+v", rec)
	}
	if m := lastOf(r.disp.Shown()); m.Code != ui.CodeChainBroken || !strings.Contains(m.ZH, "第3条") {
		t.Fatalf("display %v", m)
	}
	if logs := r.logs.String(); !strings.Contains(logs, "JOURNAL CHAIN BROKEN") || !strings.Contains(logs, "seq=3") {
		t.Fatalf("log does not name the broken record:\n%s", logs)
	}
}

// TestDaemonRevokedAcrossRestart: a revocation the sync client recorded
// holds from the start of the next run, before any exchange with the
// ledger, and is journaled once across restarts.
func TestDaemonRevokedAcrossRestart(t *testing.T) {
	clock := offlinetest.NewClock(testNow)
	path := filepath.Join(t.TempDir(), "yktd.db")
	store := openDaemonStore(t, path, clock)
	applySignedList(t, store, 1)
	if err := store.RecordRevoked(true, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		t.Run(fmt.Sprintf("run %d", run+1), func(t *testing.T) {
			store := openDaemonStore(t, path, clock)
			r := startDaemon(t, syncedConfig(), store, clock, nil)
			if h := r.d.Health(); h.Working || len(h.Holds) == 0 || h.Holds[0].Code != string(policy.CodeDeviceRevoked) ||
				!h.Holds[0].Since.Equal(testNow.Add(-time.Hour)) {
				t.Fatalf("health at start %+v", h)
			}
			if rec := r.tap(demoCard(t, "student", "", 0)); rec.Code != string(policy.CodeDeviceRevoked) {
				t.Fatalf("sale %+v", rec)
			}
			if n := len(kindsOf(t, store, protocol.KindDeviceRevoked)); n != 1 {
				t.Fatalf("%d device-revoked records, want 1", n)
			}
		})
	}
}
