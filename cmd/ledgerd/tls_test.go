package main

import (
	"bytes"
	"context"
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
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- serve(ctx, []string{"--data", dir, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key}, &out, &errb, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve not ready")
	}
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
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}
