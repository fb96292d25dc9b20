package synce2e

import (
	"context"
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

	"github.com/openykt/yktd/internal/testpki"
	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/protocol/syncclient"
)

// tunnel is a minimal HTTP CONNECT proxy that counts its tunnels.
type tunnel struct{ n atomic.Int32 }

func (p *tunnel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.n.Add(1)
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { io.Copy(up, buf); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

// TestTLSPinnedCAThroughProxy syncs with the real ledger over TLS whose CA
// is pinned, through an HTTP CONNECT proxy; a ledger address served with a
// certificate of another CA is refused and changes nothing.
func TestTLSPinnedCAThroughProxy(t *testing.T) {
	ctx := context.Background()
	lr := newLedger(t, ledger.Options{})
	ca := testpki.NewCA(t, "campus ledger CA")
	caPEM, cert := ca.PEM, ca.IssueServer(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(lr.serve))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	otherCert := testpki.NewCA(t, "impostor CA").IssueServer(t)
	impostor := httptest.NewUnstartedServer(http.HandlerFunc(lr.serve))
	impostor.TLS = &tls.Config{Certificates: []tls.Certificate{otherCert}}
	impostor.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	impostor.StartTLS()
	defer impostor.Close()

	p := &tunnel{}
	ps := httptest.NewServer(p)
	defer ps.Close()
	proxy, _ := url.Parse(ps.URL)
	hc, err := syncclient.NewHTTPClient(srv.URL, syncclient.TransportOptions{CAPEM: caPEM, Proxy: proxy})
	if err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, lr, devOpts{batch: 100, http: hc, url: srv.URL})
	d.enrol(t, lr)
	d.journal(t, 250)
	if _, err := lr.ledger().SetStatus("2024000001", ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.PullStatus(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	checkLedgerHolds(t, lr, d)
	if p.n.Load() == 0 {
		t.Fatal("nothing went through the proxy")
	}

	// The impostor: same ledger behind it, but its certificate is not
	// from the pinned CA.
	hc2, err := syncclient.NewHTTPClient(impostor.URL, syncclient.TransportOptions{CAPEM: caPEM})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := syncclient.New(syncclient.Options{
		Ledger: impostor.URL, DeviceID: deviceID, Signer: d.signer, LedgerKeys: d.client.LedgerKeys(),
		HTTP: hc2, Journal: d.store.SyncSource(), Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	d.journal(t, 5)
	before, _ := d.store.SyncCursor()
	_, err = d2.SyncOnce(ctx)
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) || syncclient.IsFatal(err) {
		t.Fatalf("sync with the impostor = %v, want a retryable x509.UnknownAuthorityError", err)
	}
	if after, _ := d.store.SyncCursor(); after != before {
		t.Fatal("cursor moved")
	}
}
