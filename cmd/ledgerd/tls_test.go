package main

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/testpki"
	"github.com/openykt/yktd/ledger"
)

// TestServeTLS: with --tls-cert and --tls-key the endpoints speak HTTPS
// only; an error answer comes back over TLS as a protocol Error.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "ledgerd test CA")
	cert, key := testpki.WriteFiles(t, t.TempDir(), ca.IssueServer(t))
	pool := ca.Pool()
	addr, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := hc.Post("https://"+addr+"/v1/status", ledger.ContentTypeCOSE, bytes.NewReader([]byte("not cose")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != ledger.ContentTypeError {
		t.Errorf("HTTPS answer %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, err := http.Post("http://"+addr+"/v1/status", ledger.ContentTypeCOSE, bytes.NewReader(nil)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port answered %d", resp.StatusCode)
		}
	}
	stop()
}
