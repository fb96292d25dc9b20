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
// all: past its limits it answers rate-limited (15, HTTP 429) at once,
// and serves again when they are gone.
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
				return // closed by the test: it was being read
			}
			resp.Body.Close()
			answers <- resp.StatusCode
		}(conns[i])
	}
	probe := func() (int, []byte) {
		return tl.Post(t, "/v1/status", dev.Seal(t, &protocol.StatusRequest{DeviceID: dev.ID}))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := probe()
		if status == http.StatusTooManyRequests {
			wantCode(t, ledgertest.ErrorOf(body), protocol.CodeRateLimited)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("200 slow 1 MiB bodies held, a request still gets HTTP %d: nothing limits them", status)
		}
	}
	select {
	case st := <-answers:
		if st != http.StatusTooManyRequests {
			t.Errorf("a slow body answered HTTP %d before it was sent, want 429", st)
		}
	case <-time.After(10 * time.Second):
		t.Error("no slow body was answered rate-limited")
	}
	for _, c := range conns {
		c.Close()
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		status, _ := probe()
		if status == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow bodies are gone and a request still gets HTTP %d", status)
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
