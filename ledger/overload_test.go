package ledger_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// bigBody is the declared size of a slow batch: the largest the ledger
// takes (a 1 MiB batch in its envelope).
const bigBody = protocol.MaxBatchSize + protocol.MaxEnvelopeOverhead

// slowPost opens a connection to the ledger, sends a POST of path that
// declares length bytes and writes only prefix of it; the caller writes
// more, reads the answer or closes the connection.
func slowPost(t testing.TB, base, path string, length int, prefix []byte) net.Conn {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, u.Host, `application/cose; cose-type="cose-sign1"`, length); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(prefix); err != nil {
		t.Fatal(err)
	}
	return c
}

// readAnswer reads the HTTP answer on c, failing after a generous bound
// (an answer that never comes while the body is unsent is the failure).
func readAnswer(t testing.TB, c net.Conn) (int, *protocol.Error) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer while the body is unsent: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, protocol.MaxErrorSize))
	return resp.StatusCode, ledgertest.ErrorOf(b)
}

// sealedPrefix is the start of a batch signed by d: its COSE_Sign1 header
// with the kid, what the ledger needs to see before the rest.
func sealedPrefix(t testing.TB, d *ledgertest.Device) []byte {
	t.Helper()
	msg, err := protocol.Sign(d.Signer, protocol.TypeBatch, make([]byte, 300), []byte(d.ID), 0)
	if err != nil {
		t.Fatal(err)
	}
	return msg[:64]
}

// TestUnknownKidBodyNotRead (issue 10.7): a 1 MiB batch whose kid is no
// enrolled device is refused from the start of its body: the answer
// comes while the rest of the body is still unsent.
func TestUnknownKidBodyNotRead(t *testing.T) {
	tl, _ := start(t)
	tl.Enrol(t, "pos-1", protocol.DevicePOS)
	c := slowPost(t, tl.URL, "/v1/batches", bigBody, sealedPrefix(t, ledgertest.NewDevice(t, "stranger-9")))
	status, e := readAnswer(t, c)
	if status != http.StatusUnauthorized {
		t.Errorf("HTTP %d, want 401", status)
	}
	wantCode(t, e, protocol.CodeUnknownDevice)
}

// TestSlowBodiesRateLimited (issue 10.7): 200 connections that hold a 1
// MiB batch body each (the field trial's attack, under an enrolled
// device's kid, which is no secret) do not make the ledger buffer them
// all: past its limits it answers rate-limited (15, HTTP 429) at once and
// holds at most its body budget, small requests are still served, and
// everything is given back when the connections are gone.
func TestSlowBodiesRateLimited(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	prefix := sealedPrefix(t, dev)
	conns := make([]net.Conn, 200)
	answers := make(chan int, len(conns))
	for i := range conns {
		conns[i] = slowPost(t, tl.URL, "/v1/batches", bigBody, prefix)
		go func(c net.Conn) {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return // closed by the test while the ledger waited for the body
			}
			resp.Body.Close()
			answers <- resp.StatusCode
		}(conns[i])
	}
	limited := 0
	for limited < len(conns)-ledger.DefaultMaxBodyMemory/bigBody {
		select {
		case st := <-answers:
			if st != http.StatusTooManyRequests {
				t.Fatalf("a slow body answered HTTP %d before it was sent, want 429", st)
			}
			limited++
		case <-time.After(10 * time.Second):
			t.Fatalf("200 slow 1 MiB bodies held, %d answered rate-limited: nothing limits them", limited)
		}
	}
	if in := tl.Server().InFlight(); in.BodyBytes > ledger.DefaultMaxBodyMemory || in.Requests > ledger.DefaultMaxRequests || in.RateLimited < int64(limited) {
		t.Errorf("in flight %+v: above the limits", in)
	}
	probe := func() int {
		status, _ := tl.Post(t, "/v1/status", dev.Seal(t, &protocol.StatusRequest{DeviceID: dev.ID, Have: 1}))
		return status
	}
	if st := probe(); st != http.StatusNoContent {
		t.Errorf("a small request during the attack: HTTP %d, want it served (204)", st)
	}
	for _, c := range conns {
		c.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); tl.Server().InFlight().BodyBytes != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the slow bodies are gone and the ledger still holds %+v", tl.Server().InFlight())
		}
		time.Sleep(time.Millisecond) // poll interval
	}
}

// TestRequestLimit: with every request slot held by a slow body, the next
// request is answered rate-limited at once, whatever its size; served
// again when a slot is free.
func TestRequestLimit(t *testing.T) {
	c := newClock()
	tl := ledgertest.Start(t, ledgertest.Options{Now: c.Now, Ledger: ledger.Options{MaxRequests: 4}})
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	req := dev.Seal(t, &protocol.StatusRequest{DeviceID: dev.ID, Have: 1}) // holds the current list: 204
	var held []net.Conn
	for range 4 {
		held = append(held, slowPost(t, tl.URL, "/v1/status", len(req), req[:10]))
	}
	waitFor(t, func() bool { return tl.Server().InFlight().Requests == 4 })
	status, body := tl.Post(t, "/v1/status", req)
	if status != http.StatusTooManyRequests {
		t.Fatalf("fifth request: HTTP %d, want 429", status)
	}
	wantCode(t, ledgertest.ErrorOf(body), protocol.CodeRateLimited)
	// A slot held by a slow body is given back when its body arrives.
	if _, err := held[0].Write(req[10:]); err != nil {
		t.Fatal(err)
	}
	if st, _ := readAnswer(t, held[0]); st != http.StatusNoContent {
		t.Errorf("the slow request, completed: HTTP %d", st)
	}
	waitFor(t, func() bool { return tl.Server().InFlight().Requests == 3 })
	if status, _ := tl.Post(t, "/v1/status", req); status != http.StatusNoContent {
		t.Errorf("with a slot free: HTTP %d", status)
	}
}

// TestBodyMemoryLimit: batches whose bodies would take the ledger past its
// body budget are answered rate-limited before they are read; what is
// within it is served.
func TestBodyMemoryLimit(t *testing.T) {
	c := newClock()
	budget := int64(3*bigBody + 64<<10)
	tl := ledgertest.Start(t, ledgertest.Options{Now: c.Now, Ledger: ledger.Options{MaxBodyMemory: budget}})
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	prefix := sealedPrefix(t, dev)
	for range 3 {
		slowPost(t, tl.URL, "/v1/batches", bigBody, prefix)
	}
	waitFor(t, func() bool { return tl.Server().InFlight().BodyBytes == 3*bigBody })
	st, e := readAnswer(t, slowPost(t, tl.URL, "/v1/batches", bigBody, prefix))
	if st != http.StatusTooManyRequests {
		t.Fatalf("a fourth 1 MiB body: HTTP %d, want 429", st)
	}
	wantCode(t, e, protocol.CodeRateLimited)
	tm := newTerminal(t, "pos-1", "student")
	tm.gate(3)
	if ack, e := upload(t, tl, dev, tm.batch(1, 1, 3)); e != nil || ack.AckedThrough != 3 {
		t.Errorf("a small batch within the budget: %+v %v", ack, e)
	}
	if in := tl.Server().InFlight(); in.BodyBytes != 3*bigBody {
		t.Errorf("in flight %+v: the small batch's bytes not given back", in)
	}
}

// TestDeclaredTooLarge: a body declared above the endpoint's bound is
// refused before anything is read or reserved.
func TestDeclaredTooLarge(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	st, e := readAnswer(t, slowPost(t, tl.URL, "/v1/batches", 64<<20, sealedPrefix(t, dev)))
	if st != http.StatusRequestEntityTooLarge {
		t.Errorf("HTTP %d, want 413", st)
	}
	wantCode(t, e, protocol.CodeTooLarge)
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) { // poll interval
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
	}
}

// BenchmarkSlowBodiesMemory measures what the field trial measured: the
// heap the ledger holds while 200 connections each send all but the last
// byte of a 1 MiB batch under an enrolled device's kid (MB-held: the
// largest heap in use above the idle ledger's, sampled for a second).
//
//	go test ./ledger -run '^$' -bench SlowBodiesMemory -benchtime 1x
func BenchmarkSlowBodiesMemory(b *testing.B) {
	tl := ledgertest.Start(b, ledgertest.Options{})
	dev := tl.Enrol(b, "pos-1", protocol.DevicePOS)
	prefix := sealedPrefix(b, dev)
	body := make([]byte, bigBody-1-len(prefix))
	var worst float64
	for range b.N {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		conns := make([]net.Conn, 200)
		for i := range conns {
			conns[i] = slowPost(b, tl.URL, "/v1/batches", bigBody, prefix)
			go func(c net.Conn) { _, _ = c.Write(body) }(conns[i])
		}
		peak := base
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		for _, c := range conns {
			c.Close()
		}
		worst = max(worst, float64(peak-base)/1e6)
	}
	b.ReportMetric(worst, "MB-held")
}
