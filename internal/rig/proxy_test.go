package rig

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRigProxy: the network between a device and the ledger carries
// requests while up; cut with drop it answers nothing (a request times
// out), cut with reset it refuses at once; heal restores it, and a new
// upstream (a restarted ledger on another port) is followed.
func TestRigProxy(t *testing.T) {
	one := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "one") }))
	defer one.Close()
	two := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "two") }))
	defer two.Close()
	p, err := newProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	p.setUpstream(one.Listener.Addr().String())
	get := func(timeout time.Duration) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr()+"/", nil)
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(5 * time.Second); err != nil || got != "one" {
		t.Fatalf("up: %q, %v", got, err)
	}
	p.cut(netDrop)
	if got, err := get(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dropped: %q, %v; want the request to hang until its deadline", got, err)
	}
	p.cut(netReset)
	if got, err := get(5 * time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reset: %q, %v; want a refusal before the deadline", got, err)
	}
	p.heal()
	p.setUpstream(two.Listener.Addr().String())
	if got, err := get(5 * time.Second); err != nil || got != "two" {
		t.Fatalf("healed, new upstream: %q, %v", got, err)
	}
}
