package syncclient_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/protocol/syncclient"
)

const syncDevice = "pos-canteen-1-01"

// fakeLedger is the ledger's side of enrolment, batches, status and
// rules as the wire contract has it: requests verified under the device
// key, answers sealed by the ledger key, refusals an unsigned Error body.
// It holds the records it acknowledged. revoked makes status, rules and
// the load endpoints answer revoked (a revoked device's batches are still
// taken for collection); revokedBatches makes batches answer revoked too
// (an older ledger).
type fakeLedger struct {
	t   *testing.T
	key *protocol.Signer
	// enrolKey signs the enrolment answer and is the key it announces
	// (default key): a ledger an attacker stands in for.
	enrolKey *protocol.Signer

	mu             sync.Mutex
	dev            protocol.Keys
	down           bool // every request answers 503, as a proxy in front of a stopped ledger
	revoked        bool
	revokedBatches bool
	psamHeld       bool // holds the device for its PSAM binding: enrolment and acks say so, status and rules answer psam-binding
	enrolTID       []byte
	status         *protocol.StatusSnapshot
	records        map[uint64][]byte
	high           uint64
	paths          []string
}

func newFakeLedger(t *testing.T) (*fakeLedger, *httptest.Server) {
	l := &fakeLedger{t: t, key: newSigner(t, "ledger-1"), records: map[uint64][]byte{}}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, srv
}

func (l *fakeLedger) set(fn func(l *fakeLedger)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l)
}

// held returns how many records the ledger acknowledged and the paths
// asked since the last call.
func (l *fakeLedger) held() (uint64, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.paths
	l.paths = nil
	return l.high, p
}

func (l *fakeLedger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		l.t.Error(err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paths = append(l.paths, r.URL.Path)
	if l.down {
		http.Error(w, "ledger unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == protocol.PathEnrol {
		req, err := protocol.OpenEnrolRequest(raw)
		if err != nil {
			l.refuse(w, protocol.Errorf(protocol.CodeBadSignature, "%v", err))
			return
		}
		l.dev = protocol.NewKeys(protocol.PublicKey{KeyID: req.DeviceID, Alg: req.Alg, Key: req.PublicKey})
		k := l.key
		if l.enrolKey != nil {
			k = l.enrolKey
		}
		pk := k.PublicKey()
		l.enrolTID = req.TerminalID
		l.seal(w, k, &protocol.EnrolResponse{DeviceID: req.DeviceID, LedgerKeyID: pk.KeyID, LedgerKey: pk.Key,
			LedgerAlg: pk.Alg, ServerTime: time.Now().UnixMilli(), Held: l.heldCode()})
		return
	}
	switch r.URL.Path {
	case protocol.PathBatches:
		b, _, err := protocol.OpenFromDevice[protocol.Batch](l.dev, raw)
		if err != nil {
			l.refuse(w, protocol.Errorf(protocol.CodeBadSignature, "%v", err))
			return
		}
		if l.revokedBatches {
			l.refuse(w, protocol.Errorf(protocol.CodeRevoked, "device revoked"))
			return
		}
		if b.FirstSeq != l.high+1 {
			e := protocol.Errorf(protocol.CodeGap, "gap")
			e.Expected = l.high + 1
			l.refuse(w, e)
			return
		}
		for i, rec := range b.Records {
			l.records[b.FirstSeq+uint64(i)] = bytes.Clone(rec)
		}
		l.high = b.LastSeq
		l.seal(w, l.key, &protocol.Ack{DeviceID: b.DeviceID, BatchNo: b.BatchNo, AckedThrough: b.LastSeq,
			Head: b.NewHead, ServerTime: time.Now().UnixMilli(), Epoch: b.Epoch, Held: l.heldCode()})
	case protocol.PathStatus:
		req, _, err := protocol.OpenFromDevice[protocol.StatusRequest](l.dev, raw)
		switch {
		case err != nil:
			l.refuse(w, protocol.Errorf(protocol.CodeBadSignature, "%v", err))
		case l.revoked:
			l.refuse(w, protocol.Errorf(protocol.CodeRevoked, "device revoked"))
		case l.psamHeld:
			l.refuse(w, protocol.Errorf(protocol.CodePSAMBinding, "device held"))
		case l.status == nil || req.Have >= l.status.Version:
			w.WriteHeader(http.StatusNoContent)
		default:
			l.seal(w, l.key, l.status)
		}
	case protocol.PathRules:
		_, _, err := protocol.OpenFromDevice[protocol.RulesRequest](l.dev, raw)
		switch {
		case err != nil:
			l.refuse(w, protocol.Errorf(protocol.CodeBadSignature, "%v", err))
		case l.revoked:
			l.refuse(w, protocol.Errorf(protocol.CodeRevoked, "device revoked"))
		case l.psamHeld:
			l.refuse(w, protocol.Errorf(protocol.CodePSAMBinding, "device held"))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		http.NotFound(w, r)
	}
}

func (l *fakeLedger) refuse(w http.ResponseWriter, e *protocol.Error) {
	b, err := protocol.EncodeError(e)
	if err != nil {
		l.t.Error(err)
	}
	w.Header().Set("Content-Type", protocol.MediaTypeError)
	w.WriteHeader(e.Code.HTTPStatus())
	w.Write(b)
}

func (l *fakeLedger) seal(w http.ResponseWriter, k *protocol.Signer, m protocol.Message) {
	b, err := protocol.Seal(k, m, syncDevice)
	if err != nil {
		l.t.Error(err)
	}
	w.Header().Set("Content-Type", protocol.MediaTypeCOSE)
	w.Write(b)
}

// memJournal is a device journal in memory with the sinks the client
// writes: records chained from the genesis value, the acknowledged cursor,
// the status list version and the device's standing with the ledger.
type memJournal struct {
	mu       sync.Mutex
	recs     [][]byte
	acked    uint64
	status   uint64
	contact  time.Time
	contacts int
	revoked  bool
	revokes  int  // RecordRevoked calls
	psamHeld bool // RecordLedgerHeld's last answer
	holds    int  // RecordLedgerHeld calls
}

// add appends n alarm records.
func (j *memJournal) add(t *testing.T, n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for range n {
		prev := protocol.EpochGenesis(syncDevice, 0)
		if len(j.recs) > 0 {
			prev = protocol.RecordHash(j.recs[len(j.recs)-1])
		}
		r := protocol.Record{Seq: uint64(len(j.recs)) + 1, Time: time.Now().UnixMilli(), Kind: protocol.KindAlarm, Reason: "tamper", Prev: prev[:]}
		b, err := protocol.EncodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		j.recs = append(j.recs, b)
	}
}

func (j *memJournal) hash(seq uint64) [protocol.HashSize]byte {
	if seq == 0 {
		return protocol.EpochGenesis(syncDevice, 0)
	}
	return protocol.RecordHash(j.recs[seq-1])
}

func (j *memJournal) Cursor() (uint64, [protocol.HashSize]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.acked, j.hash(j.acked), nil
}

func (j *memJournal) Head() (uint64, [protocol.HashSize]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := uint64(len(j.recs))
	return n, j.hash(n), nil
}

func (j *memJournal) RawRecords(after uint64, n int) ([][]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out [][]byte
	for s := after; s < uint64(len(j.recs)) && len(out) < n; s++ {
		out = append(out, bytes.Clone(j.recs[s]))
	}
	return out, nil
}

func (j *memJournal) Ack(seq uint64, hash [protocol.HashSize]byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if seq > uint64(len(j.recs)) || j.hash(seq) != hash {
		return io.ErrUnexpectedEOF
	}
	j.acked = max(j.acked, seq)
	return nil
}

func (j *memJournal) StatusVersion() (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status, nil
}

func (j *memJournal) ApplyStatusSnapshot(s protocol.StatusSnapshot) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.status = s.Version
	return nil
}

func (j *memJournal) ApplyStatusDelta(d protocol.StatusDelta) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.status = d.To
	return nil
}

func (j *memJournal) RulesVersion() (uint64, error) { return 0, nil }

func (j *memJournal) PutRules(uint64, []byte, protocol.Rules) error { return nil }

func (j *memJournal) RecordContact(t time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.contact = t
	j.contacts++
	return nil
}

func (j *memJournal) RecordRevoked(revoked bool, _ time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.revoked = revoked
	j.revokes++
	return nil
}

// standing returns the device's standing as recorded.
func (j *memJournal) standing() (contact time.Time, revoked bool, acked uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.contact, j.revoked, j.acked
}

// stepClock lets the test run Run one round at a time: every wait is
// reported on waits and lasts until the test sends on release.
type stepClock struct {
	waits   chan time.Duration
	release chan time.Time
}

func newStepClock() stepClock {
	return stepClock{waits: make(chan time.Duration), release: make(chan time.Time)}
}

func (c stepClock) Now() time.Time { return time.Now() }

func (c stepClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.release
}

// round waits for Run to finish a round, failing the test if Run ends.
func (c stepClock) round(t *testing.T, done <-chan error) time.Duration {
	t.Helper()
	select {
	case d := <-c.waits:
		return d
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not finish a round")
	}
	return 0
}

// enrolled returns a client of syncDevice on j, enrolled with l, with
// Run stepped by clk.
func enrolled(t *testing.T, l *fakeLedger, url string, j *memJournal, clk syncclient.Clock, logs io.Writer) *syncclient.Client {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	c, err := syncclient.New(syncclient.Options{Ledger: url, DeviceID: syncDevice, Signer: newSigner(t, syncDevice),
		Kind: protocol.DevicePOS, Journal: j, Status: j, Rules: j, Clock: clk, Interval: time.Minute,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enrol(context.Background(), "token"); err != nil {
		t.Fatal(err)
	}
	return c
}
