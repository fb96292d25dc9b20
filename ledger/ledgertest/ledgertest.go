// Package ledgertest starts a real reference ledger (package ledger: bbolt
// file, signing key, the /v1/ HTTP endpoints) on a loopback listener for
// the tests of other packages: the sync client, the daemon, the kiosk. It
// also enrols test devices over HTTP and gives the keys to verify the
// ledger's answers. Nothing in it is a mock: it is the server integrators
// run, in a temporary directory.
package ledgertest

import (
	"bytes"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
)

// Options configure Start. The zero value starts a ledger in t.TempDir()
// with the system clock and the test issuer keys of reader/sam.
type Options struct {
	// Dir is the data directory; default a new t.TempDir().
	Dir string
	// Now is the ledger's clock; default time.Now.
	Now func() time.Time
	// IssuerKeys default to sam.TestKeys() (the keys of the demo cards and
	// the software SAM).
	IssuerKeys map[byte]epurse.Keys
	// Ledger carries any other ledger option (Now and IssuerKeys above
	// win). Logs of level warning and above go to the test log unless
	// Ledger.Logger is set; a fuzz target must set it (slog.DiscardHandler),
	// because the fuzz function may not log through its *testing.F.
	Ledger ledger.Options
}

// Ledger is a running test ledger.
type Ledger struct {
	// Ledger is the open ledger, for operator calls (AddLoad, SetStatus,
	// NewToken, Report...). It changes on Restart.
	*ledger.Ledger
	// URL is the base URL of the /v1/ endpoints ("http://127.0.0.1:port").
	URL string
	// Dir is the data directory.
	Dir string

	t    testing.TB
	opts ledger.Options
	srv  *httptest.Server
	mu   sync.RWMutex
	h    http.Handler // a *ledger.Server
}

// TestIssuerKeys returns the master keys of sam.TestKeys by key version.
func TestIssuerKeys() map[byte]epurse.Keys { return sam.TestKeys().Keys }

// Start opens a ledger and serves it on 127.0.0.1 until the test ends; at
// cleanup it stops the listener, checks the bbolt file's consistency and
// closes the ledger.
func Start(t testing.TB, opts Options) *Ledger {
	t.Helper()
	lo := opts.Ledger
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Now != nil {
		lo.Now = opts.Now
	}
	if lo.Logger == nil {
		lo.Logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	lo.IssuerKeys = opts.IssuerKeys
	if lo.IssuerKeys == nil {
		lo.IssuerKeys = TestIssuerKeys()
	}
	tl := &Ledger{t: t, opts: lo, Dir: opts.Dir}
	tl.open()
	tl.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tl.mu.RLock()
		h := tl.h
		tl.mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	tl.URL = tl.srv.URL
	t.Cleanup(func() {
		tl.srv.Close()
		tl.mu.Lock()
		defer tl.mu.Unlock()
		tl.closeLedger()
	})
	return tl
}

func (tl *Ledger) open() {
	tl.t.Helper()
	l, err := ledger.Open(tl.Dir, tl.opts)
	if err != nil {
		tl.t.Fatalf("ledgertest: open: %v", err)
	}
	s, err := ledger.NewServer(l)
	if err != nil {
		l.Close()
		tl.t.Fatalf("ledgertest: server: %v", err)
	}
	tl.Ledger, tl.h = l, s
}

// Server returns the ledger's HTTP server (its InFlight load, for
// overload tests). It changes on Restart.
func (tl *Ledger) Server() *ledger.Server {
	tl.mu.RLock()
	defer tl.mu.RUnlock()
	return tl.h.(*ledger.Server)
}

func (tl *Ledger) closeLedger() {
	if tl.Ledger == nil {
		return
	}
	if err := tl.CheckConsistency(); err != nil {
		tl.t.Errorf("ledgertest: %v", err)
	}
	if err := tl.Close(); err != nil {
		tl.t.Errorf("ledgertest: %v", err)
	}
	tl.Ledger = nil
}

// Restart closes the ledger's database and opens it again behind the same
// URL (what a restart of ledgerd does), waiting for requests in flight.
func (tl *Ledger) Restart() {
	tl.t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.closeLedger()
	tl.open()
}

// Keys returns the ledger's public key as a protocol.KeySet, to open its
// answers (protocol.Open[protocol.Ack](tl.Keys(), msg, deviceID)).
func (tl *Ledger) Keys() protocol.Keys {
	return protocol.NewKeys(tl.PublicKey())
}

// PublicKey returns the ledger's signing key as devices pin it.
func (tl *Ledger) PublicKey() protocol.PublicKey {
	return protocol.PublicKey{KeyID: tl.KeyID(), Alg: protocol.AlgEd25519, Key: tl.Ledger.PublicKey()}
}

// Device is a test device enrolled with the ledger.
type Device struct {
	ID      string
	Signer  *protocol.Signer
	Private []byte // Ed25519 seed
}

// Seal signs m as the device (kid and AAD = device id).
func (d *Device) Seal(t testing.TB, m protocol.Message) []byte {
	t.Helper()
	b, err := protocol.Seal(d.Signer, m, d.ID)
	if err != nil {
		t.Fatalf("ledgertest: seal: %v", err)
	}
	return b
}

// NewDevice makes a device key for id without enrolling it.
func NewDevice(t testing.TB, id string) *Device {
	t.Helper()
	priv, err := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := protocol.NewSigner(id, protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	return &Device{ID: id, Signer: s, Private: priv}
}

// Enrol makes a device key for id, issues a token of kind (protocol
// DevicePOS, DeviceGate, DeviceKiosk) and enrols the device over HTTP, as
// a provisioned terminal does. It fails the test on any error.
func (tl *Ledger) Enrol(t testing.TB, id string, kind protocol.DeviceKind) *Device {
	t.Helper()
	d, _ := tl.EnrolPSAM(t, id, kind, nil)
	return d
}

// EnrolPSAM is Enrol with the terminal id of the device's PSAM in the
// request (nil: none), as a POS or kiosk enrols; it returns the ledger's
// answer too (EnrolResponse.Held says whether the device is held).
func (tl *Ledger) EnrolPSAM(t testing.TB, id string, kind protocol.DeviceKind, terminalID []byte) (*Device, protocol.EnrolResponse) {
	t.Helper()
	d := NewDevice(t, id)
	tok, _, err := tl.NewToken(id, kind.String())
	if err != nil {
		t.Fatalf("ledgertest: token: %v", err)
	}
	req := &protocol.EnrolRequest{DeviceID: id, Token: tok, PublicKey: d.Signer.PublicKey().Key, Alg: protocol.AlgEd25519, Kind: kind, Firmware: "test",
		TerminalID: terminalID}
	status, body := tl.Post(t, "/v1/enrol", d.Seal(t, req))
	if status != http.StatusOK {
		t.Fatalf("ledgertest: enrol %s: HTTP %d: %s", id, status, ErrorOf(body))
	}
	resp, err := protocol.OpenEnrolResponse(tl.Keys(), body, id)
	if err != nil {
		t.Fatalf("ledgertest: enrol response: %v", err)
	}
	return d, resp
}

// Post sends body to path (e.g. "/v1/batches") and returns the HTTP status
// and the response body.
func (tl *Ledger) Post(t testing.TB, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(tl.URL+path, ledger.ContentTypeCOSE, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("ledgertest: post %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("ledgertest: post %s: %v", path, err)
	}
	return resp.StatusCode, b
}

// ErrorOf decodes an error body (nil if it is not one).
func ErrorOf(body []byte) *protocol.Error {
	e, err := protocol.DecodeError(body)
	if err != nil {
		return nil
	}
	return e
}

// logWriter sends the ledger's logs to the test log.
type logWriter struct{ t testing.TB }

// Write logs one record.
func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
