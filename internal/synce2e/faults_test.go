package synce2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol/syncclient"
)

// Faults a faultyTransport injects.
const (
	faultDropRequest  = "drop-request"  // the request never reaches the ledger
	faultDropResponse = "drop-response" // the ledger committed, the answer is lost
	faultDuplicate    = "duplicate"     // the request arrives twice
	faultDelay        = "delay"         // the request is late
	faultReorder      = "reorder"       // an old request arrives after newer ones
	faultRestart      = "restart"       // the ledger restarts before the request
)

var errInjected = errors.New("synce2e: injected network fault")

// faultyTransport is an http.RoundTripper between the client and the
// ledger that loses, duplicates, delays and reorders requests and answers,
// and restarts the ledger, with a seeded random choice per request.
type faultyTransport struct {
	next    http.RoundTripper
	restart func()

	mu     sync.Mutex
	rng    *rand.Rand
	n      int
	held   []*http.Request // copies of earlier requests, replayed later
	counts map[string]int
}

func newFaultyTransport(seed uint64, restart func()) *faultyTransport {
	return &faultyTransport{
		next:    &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2},
		restart: restart,
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		counts:  map[string]int{},
	}
}

func (f *faultyTransport) count(k string) {
	f.mu.Lock()
	f.counts[k]++
	f.mu.Unlock()
}

// clone copies req with its body (read once into memory).
func clone(req *http.Request, body []byte) *http.Request {
	c := req.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return c
}

// discard sends req and throws its answer away.
func (f *faultyTransport) discard(req *http.Request) {
	if resp, err := f.next.RoundTrip(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.n++
	n, p := f.n, f.rng.IntN(100)
	delay := time.Duration(f.rng.IntN(3000)) * time.Microsecond
	var old *http.Request
	if p >= 50 && p < 60 && len(f.held) > 0 {
		i := f.rng.IntN(len(f.held))
		old = f.held[i]
		f.held = append(f.held[:i], f.held[i+1:]...)
	}
	if p >= 60 && p < 70 && len(f.held) < 8 {
		f.held = append(f.held, clone(req, body))
	}
	f.mu.Unlock()

	if n%37 == 0 {
		f.count(faultRestart)
		f.restart()
	}
	switch {
	case p < 10:
		f.count(faultDropRequest)
		return nil, errInjected
	case p < 20:
		f.count(faultDropResponse)
		f.discard(clone(req, body))
		return nil, errInjected
	case p < 30:
		f.count(faultDuplicate)
		f.discard(clone(req, body))
	case p < 40:
		f.count(faultDelay)
		time.Sleep(delay) // a late request is the fault itself, not synchronisation
	case old != nil:
		f.count(faultReorder)
		f.discard(old)
	}
	return f.next.RoundTrip(clone(req, body))
}

// TestFaultStorm uploads a journal that grows while the network loses,
// duplicates, delays and reorders requests and answers and the ledger
// restarts; afterwards the ledger holds every record exactly once, in
// order, and the device's cursor is the ledger's high-water mark.
func TestFaultStorm(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	ft := newFaultyTransport(1, lr.restart)
	d := newDevice(t, lr, devOpts{batch: 40, http: &http.Client{Transport: ft, Timeout: 30 * time.Second}})

	// Enrolment goes through the storm too: retried until it works (a
	// lost answer after the ledger used the token makes the token spent,
	// so each try gets a new one, as a technician would).
	var enrolled bool
	for i := 0; i < 50 && !enrolled; i++ {
		tok, _, err := lr.ledger().NewToken(deviceID, "pos")
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.client.Enrol(ctx, tok)
		enrolled = err == nil
	}
	if !enrolled {
		t.Fatal("could not enrol through the storm")
	}

	rounds, perRound := 60, 50
	if testing.Short() {
		rounds = 20 // qemu runs: still every fault, fewer records
	}
	var failures int
	for i := 0; ; i++ {
		if i < rounds {
			d.journal(t, perRound)
		}
		_, err := d.client.SyncOnce(ctx)
		if syncclient.IsFatal(err) {
			t.Fatalf("round %d: fatal: %v", i, err)
		}
		if err != nil {
			failures++
		}
		cur, _ := d.store.SyncCursor()
		head, _ := d.store.Head()
		if i >= rounds && err == nil && cur.Seq == head.Seq {
			break
		}
		if i > rounds+500 {
			t.Fatalf("no convergence: cursor %d, head %d after %d rounds", cur.Seq, head.Seq, i)
		}
	}
	checkLedgerHolds(t, lr, d)
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t.Logf("%d requests, %d failed rounds, faults %v", ft.n, failures, ft.counts)
	for _, k := range []string{faultDropRequest, faultDropResponse, faultDuplicate, faultDelay, faultReorder, faultRestart} {
		if ft.counts[k] == 0 {
			t.Errorf("fault %s never injected", k)
		}
	}
	alerts, err := lr.ledger().Alerts()
	if err != nil || len(alerts) != 0 {
		t.Fatalf("ledger alerts %v, %v: want none", alerts, err)
	}
}
