package synce2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

func sampleRules() protocol.Rules {
	return protocol.Rules{
		PINLimitFen: 5000, MinBalanceFen: 500,
		Prices:   map[string]int64{"canteen-1-set-meal": 1200},
		Meals:    []protocol.MealPeriod{{Name: "lunch", Start: 660, End: 810, MaxUses: 2}},
		Profiles: []protocol.TimeProfile{{ID: "weekdays", Windows: []protocol.TimeWindow{{Days: 0b0111110, Start: 420, End: 1320}}}},
		Groups:   []protocol.AccessGroup{{ID: "students", Doors: []string{"north"}, Profile: "weekdays", Classes: []uint8{1}}},
	}
}

func TestEnrolUploadDownload(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{SnapshotAfter: 5})
	d := newDevice(t, lr, devOpts{batch: 500})

	// Nothing works before enrolment.
	if _, err := d.client.SyncOnce(ctx); !errors.Is(err, syncclient.ErrNotEnrolled) {
		t.Fatalf("SyncOnce before enrolment = %v", err)
	}
	resp := d.enrol(t, lr)
	if resp.LedgerKeyID != lr.ledger().KeyID() || !bytes.Equal(resp.LedgerKey, lr.ledger().PublicKey()) {
		t.Fatalf("enrolled with ledger key %q, ledger has %q", resp.LedgerKeyID, lr.ledger().KeyID())
	}

	// Upload: 1,200 records in three batches.
	d.journal(t, 1200)
	res, err := d.client.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Batches != 3 || res.Records != 1200 || res.Cursor != 1200 {
		t.Fatalf("SyncOnce = %+v, want 3 batches, 1200 records", res)
	}
	checkLedgerHolds(t, lr, d)
	if res, err := d.client.SyncOnce(ctx); err != nil || res.Batches != 0 {
		t.Fatalf("second SyncOnce = %+v, %v: want nothing to do", res, err)
	}

	// Status: the first pull is a snapshot (a new ledger's empty list,
	// version 1), the next ones deltas.
	if res, err := d.client.PullStatus(ctx); err != nil || !res.Applied || res.Kind != "snapshot" || res.Version != 1 {
		t.Fatalf("PullStatus with an empty ledger list = %+v, %v; want its empty version 1", res, err)
	}
	l := lr.ledger()
	if _, err := l.SetStatus("2024000001", ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetStatus("2024000002", ledger.ReasonFrozen); err != nil {
		t.Fatal(err)
	}
	if res, err := d.client.PullStatus(ctx); err != nil || res.Kind != "delta" || res.From != 1 || res.Version != 3 {
		t.Fatalf("second PullStatus = %+v, %v", res, err)
	}
	if e, found, _ := d.store.Lookup("2024000001"); !found || e.Reason != offline.ReasonLost {
		t.Fatalf("lost card after the delta: %+v %v", e, found)
	}
	if _, err := l.RemoveStatus("2024000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetStatus("2024000003", ledger.ReasonDormant); err != nil {
		t.Fatal(err)
	}
	if res, err := d.client.PullStatus(ctx); err != nil || res.Kind != "delta" || res.From != 3 || res.Version != 5 {
		t.Fatalf("third PullStatus = %+v, %v", res, err)
	}
	if _, found, _ := d.store.Lookup("2024000001"); found {
		t.Fatal("unfrozen card still listed after the delta")
	}
	if e, found, _ := d.store.Lookup("2024000003"); !found || e.Reason != offline.ReasonDormant {
		t.Fatalf("dormant card after delta: %+v %v", e, found)
	}
	lv, ld, _ := l.StatusVersion()
	if si, _ := d.store.StatusInfo(); si.Version != lv || si.Digest != ld {
		t.Fatalf("device list %d %x, ledger %d %x", si.Version, si.Digest[:4], lv, ld[:4])
	}
	if res, err := d.client.PullStatus(ctx); err != nil || res.Applied {
		t.Fatalf("PullStatus when current = %+v, %v", res, err)
	}
	// Far behind (more changes than SnapshotAfter): a snapshot again.
	for i := 0; i < 8; i++ {
		if _, err := l.SetStatus("2025"+string(rune('0'+i))+"00000", ledger.ReasonExpired); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := d.client.PullStatus(ctx); err != nil || res.Kind != "snapshot" || res.Version != 13 {
		t.Fatalf("PullStatus far behind = %+v, %v", res, err)
	}

	// Rules.
	if res, err := d.client.PullRules(ctx); err != nil || res.Applied {
		t.Fatalf("PullRules with none set = %+v, %v", res, err)
	}
	set, err := l.SetRules(sampleRules())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := d.client.PullRules(ctx); err != nil || !res.Applied || res.Version != set.Version {
		t.Fatalf("PullRules = %+v, %v", res, err)
	}
	got, v, err := d.store.Rules()
	if err != nil || v != set.Version || got.Prices["canteen-1-set-meal"] != 1200 || got.Groups[0].Profile != "weekdays" {
		t.Fatalf("rules in the store = %+v %d %v", got, v, err)
	}
	signed, _, _ := d.store.RulesSigned()
	if _, _, err := protocol.Open[protocol.Rules](d.client.LedgerKeys(), signed, deviceID); err != nil {
		t.Fatalf("stored signed rules do not verify: %v", err)
	}
	if res, err := d.client.PullRules(ctx); err != nil || res.Applied {
		t.Fatalf("PullRules when current = %+v, %v", res, err)
	}

	// The applies were journalled; they upload like any record.
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	checkLedgerHolds(t, lr, d)
	applied := 0
	es, _ := d.store.Records(1200, 100)
	for _, e := range es {
		if e.Record.Kind == protocol.KindConfigApplied {
			applied++
		}
	}
	if applied != 5 { // the empty snapshot, delta, delta, snapshot, rules
		t.Fatalf("%d config-applied records, want 5", applied)
	}
}

// stepClock reports every wait Run starts and ends it when the test says,
// so that a test drives Run round by round without sleeping.
type stepClock struct {
	waits   chan time.Duration
	release chan time.Time
}

func (c stepClock) Now() time.Time { return time.Now() }
func (c stepClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.release
}

func TestRunLoop(t *testing.T) {
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 50})
	d.enrol(t, lr)
	d.journal(t, 120)
	if _, err := lr.ledger().SetStatus("2024000009", ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	clk := stepClock{waits: make(chan time.Duration), release: make(chan time.Time)}
	c, err := syncclient.New(syncclient.Options{
		Ledger: lr.srv.URL, DeviceID: deviceID, Signer: d.signer, LedgerKeys: d.client.LedgerKeys(),
		Journal: d.store.SyncSource(), Status: d.store.SyncSource(), Rules: d.store.SyncSource(),
		BatchSize: 50, Interval: time.Minute, BackoffBase: time.Second, BackoffMax: 8 * time.Second,
		Clock: clk, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.After(30 * time.Second)
	started := false
	next := func() time.Duration {
		if started {
			clk.release <- time.Now()
		}
		started = true
		select {
		case w := <-clk.waits:
			return w // Run now waits for the next call's release
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-deadline:
			t.Fatal("Run did not wait")
		}
		return 0
	}
	// A good round waits the interval.
	if w := next(); w != time.Minute {
		t.Fatalf("wait after a good round = %v, want the interval", w)
	}
	// The round uploaded first, then applied the status list (journalled
	// as record 121, which the next round uploads).
	if cur, _ := d.store.SyncCursor(); cur.Seq != 120 {
		t.Fatalf("cursor after the first round = %d, want 120", cur.Seq)
	}
	if _, found, _ := d.store.Lookup("2024000009"); !found {
		t.Fatal("Run did not pull the status list")
	}
	// Ledger gone: rounds fail and the waits back off, jittered and capped.
	lr.wrapAll(func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	for i, max := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		if w := next(); w < max/2 || w > max {
			t.Fatalf("backoff %d = %v, want in [%v, %v]", i, w, max/2, max)
		}
	}
	lr.wrapAll(nil)
	if w := next(); w != time.Minute {
		t.Fatalf("wait after recovery = %v, want the interval", w)
	}
	checkLedgerHolds(t, lr, d)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

// TestEnrolPinnedKey: with a ledger key pinned at provisioning, an answer
// signed by another ledger key is refused.
func TestEnrolPinnedKey(t *testing.T) {
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{})
	priv, _ := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	other, _ := protocol.NewSigner("other-ledger", protocol.AlgEd25519, priv)
	c, err := syncclient.New(syncclient.Options{
		Ledger: lr.srv.URL, DeviceID: deviceID, Signer: d.signer, Logger: quiet(), Kind: protocol.DevicePOS,
		LedgerKeys: protocol.NewKeys(other.PublicKey()), Journal: d.store.SyncSource(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := lr.ledger().NewToken(deviceID, "pos")
	if _, err := c.Enrol(context.Background(), tok); !errors.Is(err, protocol.ErrUnknownKey) {
		t.Fatalf("Enrol with another ledger key pinned = %v, want refused", err)
	}
	// The genuine key pinned: accepted.
	pinned := protocol.NewKeys(protocol.PublicKey{KeyID: lr.ledger().KeyID(), Alg: protocol.AlgEd25519, Key: lr.ledger().PublicKey()})
	c2, err := syncclient.New(syncclient.Options{
		Ledger: lr.srv.URL, DeviceID: deviceID, Signer: d.signer, Logger: quiet(), Kind: protocol.DevicePOS, LedgerKeys: pinned, Journal: d.store.SyncSource(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ = lr.ledger().NewToken(deviceID, "pos")
	if _, err := c2.Enrol(context.Background(), tok); err != nil {
		t.Fatalf("Enrol with the ledger key pinned = %v", err)
	}
}
