package syncclient

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testpki"
)

func tlsServer(t *testing.T, cert tls.Certificate, clientCAs *x509.CertPool) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ledger")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes refused on purpose
	if clientCAs != nil {
		srv.TLS.ClientCAs = clientCAs
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func get(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestPinnedCA(t *testing.T) {
	ours, theirs := testpki.NewCA(t, "campus ledger CA"), testpki.NewCA(t, "someone else")
	good := tlsServer(t, ours.IssueServer(t), nil)
	other := tlsServer(t, theirs.IssueServer(t), nil)

	c, err := NewHTTPClient(good.URL, TransportOptions{CAPEM: ours.PEM})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(c, good.URL); err != nil || body != "ledger" {
		t.Fatalf("ledger with the pinned CA: %q, %v", body, err)
	}
	_, err = get(c, other.URL)
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Fatalf("server of another CA: %v, want x509.UnknownAuthorityError", err)
	}
	// httptest's own CA is not trusted either: no system or default roots.
	plain := httptest.NewTLSServer(http.NotFoundHandler())
	defer plain.Close()
	if _, err := get(c, plain.URL); !errors.As(err, &uae) {
		t.Fatalf("httptest server: %v, want x509.UnknownAuthorityError", err)
	}
	if _, err := NewHTTPClient(good.URL, TransportOptions{}); !errors.Is(err, ErrNoCA) {
		t.Fatalf("https without CA: %v, want ErrNoCA", err)
	}
	if _, err := NewHTTPClient(good.URL, TransportOptions{CAPEM: []byte("not pem")}); err == nil {
		t.Fatal("garbage CA accepted")
	}
}

func TestClientCertificate(t *testing.T) {
	ca := testpki.NewCA(t, "campus CA")
	pool := ca.Pool()
	srv := tlsServer(t, ca.IssueServer(t), pool)
	without, err := NewHTTPClient(srv.URL, TransportOptions{CAPEM: ca.PEM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(without, srv.URL); err == nil {
		t.Fatal("server requiring a client certificate accepted a client without one")
	}
	cert := ca.IssueClient(t)
	with, err := NewHTTPClient(srv.URL, TransportOptions{CAPEM: ca.PEM, ClientCert: &cert})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(with, srv.URL); err != nil || body != "ledger" {
		t.Fatalf("with client certificate: %q, %v", body, err)
	}
}

// connectProxy is a tiny HTTP proxy: CONNECT tunnels (for https) and
// absolute-URI forwarding (for http). It counts what it relayed.
type connectProxy struct {
	connects, forwards atomic.Int32
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connects.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		hj, _ := w.(http.Hijacker)
		conn, buf, err := hj.Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
		return
	}
	p.forwards.Add(1)
	r.RequestURI = ""
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, bufio.NewReader(resp.Body))
}

func TestProxy(t *testing.T) {
	ca := testpki.NewCA(t, "campus CA")
	tlsLedger := tlsServer(t, ca.IssueServer(t), nil)
	plainLedger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ledger") }))
	defer plainLedger.Close()
	p := &connectProxy{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	pu, _ := url.Parse(ps.URL)

	c, err := NewHTTPClient(tlsLedger.URL, TransportOptions{CAPEM: ca.PEM, Proxy: pu})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(c, tlsLedger.URL); err != nil || body != "ledger" {
		t.Fatalf("https through the proxy: %q, %v", body, err)
	}
	if p.connects.Load() != 1 {
		t.Fatalf("proxy saw %d CONNECTs, want 1", p.connects.Load())
	}
	c2, err := NewHTTPClient(plainLedger.URL, TransportOptions{Proxy: pu})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(c2, plainLedger.URL); err != nil || body != "ledger" {
		t.Fatalf("http through the proxy: %q, %v", body, err)
	}
	if p.forwards.Load() != 1 {
		t.Fatalf("proxy forwarded %d requests, want 1", p.forwards.Load())
	}
	// Without Proxy the environment is ignored: HTTP_PROXY pointing at a
	// dead port changes nothing.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	c3, _ := NewHTTPClient(plainLedger.URL, TransportOptions{})
	if body, err := get(c3, plainLedger.URL); err != nil || body != "ledger" {
		t.Fatalf("direct with HTTP_PROXY set: %q, %v", body, err)
	}
	if _, err := NewHTTPClient(plainLedger.URL, TransportOptions{Proxy: &url.URL{Scheme: "socks5", Host: "x:1"}}); err == nil {
		t.Fatal("socks proxy accepted")
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(time.Second, 10*time.Second)
	b.rand = func(n int64) int64 { return n - 1 } // the top of each range
	var got []time.Duration
	for range 6 {
		got = append(got, b.next())
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %d = %v, want %v (all: %v)", i, got[i], want[i]*time.Second, got)
		}
	}
	b.rand = func(int64) int64 { return 0 } // the bottom: half the step
	b.reset()
	if d := b.next(); d != 500*time.Millisecond {
		t.Fatalf("after reset = %v, want 500ms", d)
	}
	// Real jitter stays within [step/2, step].
	b = newBackoff(time.Second, time.Minute)
	for i := 0; i < 100; i++ {
		step := min(time.Second<<min(i, 7), time.Minute)
		if d := b.next(); d < step/2 || d > step {
			t.Fatalf("attempt %d: %v outside [%v, %v]", i, d, step/2, step)
		}
	}
}
