package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

// TestShutdownUploadsPending: a real `yktd run --config` syncing with a
// real `ledgerd` every hour sells, and is stopped with SIGTERM before the
// next round: the ledger holds the sale (its high-water mark and its debit
// count) after the stop. Then the same device sells again with the ledger
// gone behind an address that takes the connection and never answers (the
// requests' own timeout is ten minutes): SIGTERM still ends it after the
// upload's bound, and the sale waits in the journal for the next start.
func TestShutdownUploadsPending(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ledgerd and runs real processes")
	}
	l := startLedgerd(t)
	l.admin(t, "status", "add", "--data", l.data, sim.DemoLostNo, "lost") // a ledger with no list yet serves none
	d := newDevice(t, l, "1h", "student", "staff")
	token := strings.TrimSpace(l.admin(t, "token", "new", "--data", l.data, "--device", d.id, "--kind", "pos"))

	p := startYktd(t, "run", "--config", d.config, "--enrol", token)
	ctl := &rigCtl{t: t, dir: d.dir, addr: controlOf(t, p)}
	ctl.awaitHealth("synced once", func(h terminal.Health) bool { return h.Working && !h.Sync.LastContact.IsZero() })
	rec := ctl.tap("student")
	if rec.Outcome != "paid" {
		t.Fatalf("sale %+v", rec)
	}
	completion := rec.Intent + 1
	if h := ctl.health(); h.Journal.AckedThrough >= completion {
		t.Fatalf("the sale was uploaded before the stop (acked through %d): the test would prove nothing", h.Journal.AckedThrough)
	}
	if code := p.term(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
	}
	high, debits, n := l.device(t, d.id)
	if high < completion || debits != 1250 || n != 1 {
		t.Fatalf("ledger after the stop: high water %d (want >= %d), debits %d in %d sales (want 1250 in 1)\nyktd stderr:\n%s",
			high, completion, debits, n, p.stderr.String())
	}

	// The ledger goes; its address now takes connections and says nothing.
	addr := strings.TrimSuffix(strings.TrimPrefix(l.url, "http://"), "/")
	p = startYktd(t, "run", "--config", d.config)
	ctl = &rigCtl{t: t, dir: d.dir, addr: controlOf(t, p)}
	ctl.awaitHealth("synced once", func(h terminal.Health) bool { return h.Working })
	if code := l.term(t); code != 0 {
		t.Fatalf("ledgerd exit %d", code)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	if rec := ctl.tap("staff"); rec.Outcome != "paid" {
		t.Fatalf("sale %+v", rec)
	}
	start := time.Now()
	if code := p.term(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
	}
	logs := p.stderr.String()
	// The upload ended at its own bound (a context deadline), not at a
	// request timeout of the HTTP client.
	var line string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "not uploaded before stopping") {
			line = l
		}
	}
	if !strings.Contains(line, "context deadline exceeded") {
		t.Fatalf("the stop did not end at the upload's bound (took %v):\n%s", time.Since(start).Round(time.Millisecond), logs)
	}
}
