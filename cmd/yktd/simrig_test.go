package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/reader/sim"
)

// rigSimConfig is the POS configuration the rig gives `yktd run --sim
// --config`: keyed amounts, the ledger at url.
func rigSimConfig(t *testing.T, url, fingerprint string) string {
	t.Helper()
	b, err := simConfigs.ReadFile("simconfig/pos.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `mode = "fixed"`, `mode = "keyed"`, 1)
	s = strings.Replace(s, `id = "SIM-CANTEEN-01"`, `id = "RIG-POS-1"`, 1)
	s += "\n[sync]\nledger = \"" + url + "/\"\ninsecure = true\nledger_key = \"" + fingerprint + "\"\ninterval = \"200ms\"\nmin_backoff = \"100ms\"\nmax_backoff = \"500ms\"\n"
	path := filepath.Join(t.TempDir(), "pos.toml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rigCard issues a card that is not in the demo catalogue into dir/cards.
func rigCard(t *testing.T, dir, name, no, expiry string, balance uint32) {
	t.Helper()
	d := sim.Catalogue()[0]
	d.Name, d.Profile.CardNo, d.Profile.Expiry, d.Balance = name, no, expiry, balance
	c, err := d.Issue()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "cards"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(filepath.Join(dir, "cards", name+".json")); err != nil {
		t.Fatal(err)
	}
}

// TestRigSimConfig: what `yktd rig run` needs of `yktd run --sim`. With
// --config the simulator runs the rig's configuration instead of the demo's;
// with sync.ledger in it, it enrols with --enrol's token at that (separate)
// ledger instead of starting one in-process; every card in DIR/cards is
// on its virtual reader, not only the demo's; the console's keys go to the
// keypad (no demo tapper); and the simulator's clock steps with POST
// /sim/clock, so a card valid until tomorrow is refused as expired after
// a step of two days. GET /sim/board shows the board.
func TestRigSimConfig(t *testing.T) {
	l := ledgertest.Start(t, ledgertest.Options{})
	tok, _, err := l.NewToken("RIG-POS-1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "dev")
	tomorrow := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, 1).Format("20060102")
	rigCard(t, dir, "carol", "10012026120700000042", tomorrow, 10000)
	pr, pw := io.Pipe()
	defer pw.Close()
	r := startRun(t, 90*time.Second, pr, "run", "--sim", "--config", rigSimConfig(t, l.URL, l.Fingerprint()), "--dir", dir, "--enrol", tok, "--auto", "0")
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))

	devs, err := l.Devices()
	if err != nil || len(devs) != 1 || devs[0].ID != "RIG-POS-1" || devs[0].PublicKey == nil {
		t.Fatalf("the ledger's devices after the start: %+v, %v", devs, err)
	}
	// carol taps; the cashier keys 12.50 on the console.
	off := len(r.stdout.String())
	ctl.post("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "carol"})
	awaitPrompt(t, r, off) // keys typed before the prompt are not the amount
	if _, err := io.WriteString(pw, "12.50\n"); err != nil {
		t.Fatal(err)
	}
	recs := ctl.awaitTaps(1, 30*time.Second)
	if recs[0].Outcome != "paid" || recs[0].Amount != 1250 || recs[0].Card != "10012026120700000042" {
		t.Fatalf("carol's tap: %+v\nstdout:\n%s\nstderr:\n%s", recs[0], r.stdout, r.stderr)
	}
	ctl.post("/sim/readers/sim:canteen-1/remove", nil)

	var clock struct {
		Offset string    `json:"offset"`
		Now    time.Time `json:"now"`
	}
	if err := ctl.c.Post(context.Background(), "/sim/clock", map[string]string{"step": "48h"}, &clock); err != nil {
		t.Fatal(err)
	}
	if clock.Offset != "48h0m0s" || time.Until(clock.Now) < 47*time.Hour {
		t.Fatalf("POST /sim/clock: %+v", clock)
	}
	off = len(r.stdout.String())
	ctl.post("/sim/readers/sim:canteen-1/tap", map[string]string{"card": "carol"})
	awaitPrompt(t, r, off)
	if _, err := io.WriteString(pw, "1.00\n"); err != nil {
		t.Fatal(err)
	}
	recs = ctl.awaitTaps(2, 30*time.Second)
	if recs[1].Outcome != "refused" || recs[1].Code != "expired" {
		t.Fatalf("carol's tap two days later: %+v", recs[1])
	}

	var board struct {
		Indicators []struct {
			Name string `json:"name"`
		} `json:"indicators"`
	}
	if err := ctl.c.Get(context.Background(), "/sim/board", &board); err != nil {
		t.Fatal(err)
	}
	if len(board.Indicators) != 1 || board.Indicators[0].Name != "buzzer" {
		t.Errorf("GET /sim/board: %+v", board)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "enrolled with the ledger") {
		t.Errorf("no enrolment in the log:\n%s", r.stderr)
	}
	// Like a device's real-time clock, the step survives a restart.
	r = startRun(t, 90*time.Second, nil, "run", "--sim", "--config", rigSimConfig(t, l.URL, l.Fingerprint()), "--dir", dir, "--auto", "0")
	ctl = newCtl(t, dir, controlAddr(t, dir, r.done))
	if err := ctl.c.Get(context.Background(), "/sim/clock", &clock); err != nil || clock.Offset != "48h0m0s" {
		t.Fatalf("GET /sim/clock after the restart: %+v %v", clock, err)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("restart: exit %d\nstderr:\n%s", code, r.stderr)
	}
}

// awaitPrompt waits until the console asks for the amount after the
// first off bytes of its output.
func awaitPrompt(t *testing.T, r *daemonRun, off int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.stdout.String()[off:], "金额 Amount:") {
		if time.Now().After(deadline) {
			t.Fatalf("the console never asked for the amount:\n%s", r.stdout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
