package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

// TestFailClosedUntilFirstSync starts `yktd run --config` on a device that
// never received a status list (it is not enrolled yet): the lost card is
// refused, and so is a good card, with the reason on the display and in
// /v1/health. Then the same device, enrolled with a real `ledgerd` whose
// list names the lost card, after its first sync sells to the good card
// and refuses the lost one.
func TestFailClosedUntilFirstSync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ledgerd and runs real processes")
	}
	l := startLedgerd(t)
	l.admin(t, "status", "add", "--data", l.data, sim.DemoLostNo, "lost")
	d := newDevice(t, l, "1s", "student", "lost")

	first := startYktd(t, "run", "--config", d.config)
	ctl := &rigCtl{t: t, dir: d.dir, addr: controlOf(t, first)}
	h := ctl.health()
	if h.Working || h.StatusList.Version != 0 || !slices.ContainsFunc(h.Holds, func(x terminal.HealthHold) bool { return x.Code == "no_status_list" }) {
		t.Fatalf("health with no status list: %+v", h)
	}
	for _, name := range []string{"lost", "student"} {
		if rec := ctl.tap(name); rec.Outcome != "refused" || rec.Code != "no_status_list" {
			t.Fatalf("%s card with no status list: %+v", name, rec)
		}
	}
	if code := first.term(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, first.stderr.String())
	}
	if out := first.stdout.String(); !strings.Contains(out, "未获取挂失名单") || !strings.Contains(out, "No lost-card list yet") {
		t.Errorf("the display did not say why:\n%s", out)
	}
	if d.balance(t, "student") != 10000 || d.balance(t, "lost") != 8000 {
		t.Fatalf("a card was debited with no status list: student %d, lost %d", d.balance(t, "student"), d.balance(t, "lost"))
	}

	token := strings.TrimSpace(l.admin(t, "token", "new", "--data", l.data, "--device", d.id, "--kind", "pos"))
	second := startYktd(t, "run", "--config", d.config, "--enrol", token)
	ctl = &rigCtl{t: t, dir: d.dir, addr: controlOf(t, second)}
	ctl.awaitHealth("working on the ledger's list", func(h terminal.Health) bool { return h.Working && h.StatusList.Version > 0 })
	if rec := ctl.tap("student"); rec.Outcome != "paid" || rec.Amount != 1250 || rec.Balance != 8750 {
		t.Fatalf("student after the first sync: %+v", rec)
	}
	if rec := ctl.tap("lost"); rec.Outcome != "refused" || rec.Code != "lost" {
		t.Fatalf("lost card after the first sync: %+v", rec)
	}
	if code := second.term(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, second.stderr.String())
	}
	if d.balance(t, "student") != 8750 || d.balance(t, "lost") != 8000 {
		t.Fatalf("balances after: student %d, lost %d", d.balance(t, "student"), d.balance(t, "lost"))
	}
}

// TestEnrolRefusesAnotherLedgerKey: a device whose sync.ledger_key names
// another key than the one the ledger signs with refuses the enrolment
// answer, pins nothing and does not start.
func TestEnrolRefusesAnotherLedgerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ledgerd and runs real processes")
	}
	l := startLedgerd(t)
	other := l.fingerprint
	l.fingerprint = protocol.Fingerprint(bytes.Repeat([]byte{7}, 32)) // what the device is told to trust
	d := newDevice(t, l, "1s")
	token := strings.TrimSpace(l.admin(t, "token", "new", "--data", l.data, "--device", d.id, "--kind", "pos"))
	p := startYktd(t, "run", "--config", d.config, "--enrol", token)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, p.stderr.String())
	}
	if msg := p.stderr.String(); !strings.Contains(msg, "not the pinned one") || !strings.Contains(msg, other) {
		t.Errorf("stderr does not say which key answered:\n%s", msg)
	}
	if _, err := os.Stat(filepath.Join(d.dir, ledgerKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a ledger key was pinned: %v", err)
	}
}
