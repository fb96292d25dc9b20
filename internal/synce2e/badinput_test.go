package synce2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

// answer is a ledger answer as the tamper middleware sees it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// tamperer records the ledger's answers per path and lets a test replace
// the next ones.
type tamperer struct {
	mu      sync.Mutex
	last    map[string]answer                // last genuine answer per path
	replace map[string]func(a answer) answer // path → rewrite
	short   map[string]bool                  // path → cut the body below its Content-Length
}

func newTamperer(lr *ledgerRig) *tamperer {
	tp := &tamperer{last: map[string]answer{}, replace: map[string]func(answer) answer{}, short: map[string]bool{}}
	lr.setWrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			a := answer{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.Bytes()}
			tp.mu.Lock()
			tp.last[r.URL.Path] = a
			f, short := tp.replace[r.URL.Path], tp.short[r.URL.Path]
			tp.mu.Unlock()
			if f != nil {
				a = f(a)
			}
			for k, v := range a.header {
				w.Header()[k] = v
			}
			if short {
				w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
				w.WriteHeader(a.status)
				w.Write(a.body[:len(a.body)/2]) // the server then drops the connection
				return
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(a.status)
			w.Write(a.body)
		})
	})
	return tp
}

func (tp *tamperer) set(path string, f func(answer) answer) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.replace[path] = f
}

func (tp *tamperer) setShort(path string, on bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.short[path] = on
}

func (tp *tamperer) lastAnswer(path string) answer {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	a := tp.last[path]
	a.body = bytes.Clone(a.body)
	return a
}

func withBody(b []byte) func(answer) answer {
	return func(a answer) answer {
		a.body = b
		a.status = http.StatusOK
		a.header = http.Header{"Content-Type": {ledger.ContentTypeCOSE}}
		return a
	}
}

// deviceState is what a refused answer must leave unchanged.
type deviceState struct {
	cursor offline.Cursor
	head   offline.Head
	status offline.StatusInfo
	rules  uint64
}

func stateOf(t *testing.T, d *device) deviceState {
	t.Helper()
	var s deviceState
	var err error
	if s.cursor, err = d.store.SyncCursor(); err != nil {
		t.Fatal(err)
	}
	if s.head, err = d.store.Head(); err != nil {
		t.Fatal(err)
	}
	if s.status, err = d.store.StatusInfo(); err != nil {
		t.Fatal(err)
	}
	if _, s.rules, err = d.store.Rules(); err != nil {
		t.Fatal(err)
	}
	return s
}

func sameState(a, b deviceState) bool {
	return a.cursor == b.cursor && a.head.Seq == b.head.Seq && a.head.Hash == b.head.Hash &&
		a.status.Version == b.status.Version && a.status.Digest == b.status.Digest && a.rules == b.rules
}

func TestBadInputRefused(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	d := newDevice(t, lr, devOpts{batch: 20})
	d.enrol(t, lr)
	tp := newTamperer(lr)
	l := lr.ledger()

	// An attacker key under the ledger's key id.
	priv, _ := protocol.GenerateKey(protocol.AlgEd25519, rand.Reader)
	evil, err := protocol.NewSigner(l.KeyID(), protocol.AlgEd25519, priv)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(m protocol.Message) []byte {
		b, err := protocol.Seal(evil, m, deviceID)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Genuine history the replays come from: batch 1..20, status v1, rules v1.
	d.journal(t, 20)
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	oldAck := tp.lastAnswer("/v1/batches").body
	l.SetStatus("2024000001", ledger.ReasonLost)
	if _, err := d.client.PullStatus(ctx); err != nil {
		t.Fatal(err)
	}
	oldSnapshot := tp.lastAnswer("/v1/status").body
	l.SetStatus("2024000002", ledger.ReasonLost)
	if _, err := d.client.PullStatus(ctx); err != nil {
		t.Fatal(err)
	}
	oldDelta := tp.lastAnswer("/v1/status").body
	l.SetStatus("2024000003", ledger.ReasonFrozen)
	if _, err := d.client.PullStatus(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetRules(sampleRules()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.PullRules(ctx); err != nil {
		t.Fatal(err)
	}
	oldRules := tp.lastAnswer("/v1/rules").body
	r2 := sampleRules()
	r2.PINLimitFen = 3000
	if _, err := l.SetRules(r2); err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.PullRules(ctx); err != nil {
		t.Fatal(err)
	}
	currentRules := tp.lastAnswer("/v1/rules").body
	d.journal(t, 10) // unsent records, so that uploads have something to do
	st, _, _ := l.StatusVersion()

	flip := func(a answer) answer { a.body = bytes.Clone(a.body); a.body[len(a.body)-1] ^= 1; return a }
	tests := []struct {
		name  string
		path  string
		f     func(answer) answer
		short bool
		op    func() error
		want  error
	}{
		{"ack with a broken signature", "/v1/batches", flip, false, upload(d), protocol.ErrBadSignature},
		{"ack signed by another key", "/v1/batches", withBody(forge(&protocol.Ack{DeviceID: deviceID, BatchNo: 40, AckedThrough: 40, Head: make([]byte, 32), ServerTime: 1})), false, upload(d), protocol.ErrBadSignature},
		{"replayed old ack", "/v1/batches", withBody(oldAck), false, upload(d), syncclient.ErrBadAck},
		{"truncated ack", "/v1/batches", func(a answer) answer { a.body = a.body[:len(a.body)/2]; return a }, false, upload(d), protocol.ErrMalformed},
		{"ack cut below its length", "/v1/batches", nil, true, upload(d), syncclient.ErrResponse},
		{"oversized ack", "/v1/batches", withBody(make([]byte, 4096)), false, upload(d), protocol.ErrTooLarge},
		{"garbage error body", "/v1/batches", func(a answer) answer {
			return answer{status: http.StatusConflict, header: http.Header{"Content-Type": {"application/cbor"}}, body: []byte{0xff, 0x00}}
		}, false, upload(d), syncclient.ErrResponse},
		{"status list signed by another key", "/v1/status", withBody(forge(&protocol.StatusSnapshot{Version: st + 1, Digest: emptyDigest()})), false, pullStatus(d), protocol.ErrBadSignature},
		{"replayed old snapshot", "/v1/status", withBody(oldSnapshot), false, pullStatus(d), syncclient.ErrStaleDownload},
		{"replayed old delta", "/v1/status", withBody(oldDelta), false, pullStatus(d), syncclient.ErrStaleDownload},
		{"oversized status list", "/v1/status", withBody(make([]byte, protocol.MaxStatusSize+protocol.MaxEnvelopeOverhead+1)), false, pullStatus(d), protocol.ErrTooLarge},
		{"truncated status list", "/v1/status", withBody(oldSnapshot[:len(oldSnapshot)-3]), false, pullStatus(d), protocol.ErrMalformed},
		{"replayed old rules", "/v1/rules", withBody(oldRules), false, pullRules(d), syncclient.ErrStaleDownload},
		{"replayed current rules", "/v1/rules", withBody(currentRules), false, pullRules(d), syncclient.ErrStaleDownload},
		{"rules signed by another key", "/v1/rules", withBody(forge(&protocol.Rules{Version: 9, Issued: 1})), false, pullRules(d), protocol.ErrBadSignature},
		{"rules cut below their length", "/v1/rules", withBody(currentRules), true, pullRules(d), syncclient.ErrResponse},
		{"oversized rules", "/v1/rules", withBody(make([]byte, protocol.MaxRulesSize+protocol.MaxEnvelopeOverhead+1)), false, pullRules(d), protocol.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := stateOf(t, d)
			tp.set(tt.path, tt.f)
			tp.setShort(tt.path, tt.short)
			err := tt.op()
			tp.set(tt.path, nil)
			tp.setShort(tt.path, false)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if syncclient.IsFatal(err) {
				t.Fatalf("refused answer stopped the client: %v", err)
			}
			if after := stateOf(t, d); !sameState(before, after) {
				t.Fatalf("state changed by a refused answer: %+v → %+v", before, after)
			}
		})
	}
	// Nothing was lost: the genuine ledger still gets everything.
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	checkLedgerHolds(t, lr, d)
}

func emptyDigest() []byte {
	d := protocol.StatusDigest(nil)
	return d[:]
}

func upload(d *device) func() error {
	return func() error { _, err := d.client.SyncOnce(context.Background()); return err }
}

func pullStatus(d *device) func() error {
	return func() error { _, err := d.client.PullStatus(context.Background()); return err }
}

func pullRules(d *device) func() error {
	return func() error { _, err := d.client.PullRules(context.Background()); return err }
}
