package syncclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

func newEnrolClient(t *testing.T, url, fingerprint string, require bool) *syncclient.Client {
	t.Helper()
	j := &memJournal{}
	c, err := syncclient.New(syncclient.Options{Ledger: url, DeviceID: syncDevice, Signer: newSigner(t, syncDevice),
		Kind: protocol.DevicePOS, Journal: j, Status: j, Rules: j, LedgerFingerprint: fingerprint, RequireLedgerPin: require,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEnrolPinsTheLedgerKey: with the ledger key's fingerprint pinned
// (sync.ledger_key), an enrolment answered and signed by another key (an
// impostor between the device and the ledger) is refused and nothing is
// pinned; the real ledger's answer is taken.
func TestEnrolPinsTheLedgerKey(t *testing.T) {
	ctx := context.Background()
	l, srv := newFakeLedger(t)
	pin := protocol.Fingerprint(l.key.PublicKey().Key)

	l.set(func(l *fakeLedger) { l.enrolKey = newSigner(t, "ledger-1") })
	c := newEnrolClient(t, srv.URL, pin, true)
	if _, err := c.Enrol(ctx, "token"); !errors.Is(err, syncclient.ErrLedgerKeyMismatch) {
		t.Fatalf("enrolment answered by another key: %v", err)
	}
	if c.LedgerKeys() != nil {
		t.Fatal("the impostor's key was pinned")
	}
	if _, err := c.SyncOnce(ctx); !errors.Is(err, syncclient.ErrNotEnrolled) {
		t.Fatalf("SyncOnce after a refused enrolment: %v", err)
	}

	l.set(func(l *fakeLedger) { l.enrolKey = nil })
	resp, err := c.Enrol(ctx, "token")
	if err != nil || protocol.Fingerprint(resp.LedgerKey) != pin || c.LedgerKeys() == nil {
		t.Fatalf("enrolment with the pinned ledger: %+v, %v", resp, err)
	}
}

// TestEnrolNeedsAPin: a device that must pin (a field configuration) and
// has no fingerprint refuses to enrol before it sends anything, so the
// one-time token is not spent on a ledger it cannot check.
func TestEnrolNeedsAPin(t *testing.T) {
	l, srv := newFakeLedger(t)
	c := newEnrolClient(t, srv.URL, "", true)
	if _, err := c.Enrol(context.Background(), "token"); !errors.Is(err, syncclient.ErrNoLedgerPin) {
		t.Fatalf("enrolment without a pin: %v", err)
	}
	if _, paths := l.held(); len(paths) != 0 {
		t.Fatalf("the ledger was asked %v", paths)
	}
	// Without the requirement (a loopback test ledger) the announced key
	// is trusted on first use.
	c = newEnrolClient(t, srv.URL, "", false)
	if _, err := c.Enrol(context.Background(), "token"); err != nil || c.LedgerKeys() == nil {
		t.Fatalf("trust on first use: %v", err)
	}
}

func TestNewRefusesABadPin(t *testing.T) {
	_, err := syncclient.New(syncclient.Options{Ledger: "http://127.0.0.1:9/", DeviceID: syncDevice, Signer: newSigner(t, syncDevice),
		LedgerFingerprint: "sha256:xyz"})
	if err == nil {
		t.Fatal("a malformed fingerprint accepted")
	}
}
