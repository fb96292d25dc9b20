package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/kiosk"
)

// TestRunSimKiosk runs `yktd run --sim --kind kiosk` on the demo accounts
// and drives it through the control interface as the kiosk's page does:
// the student's card claims the 50.00 paid online as it is placed, a
// wrong PIN is refused by the card, a 银校转账 of 100.00 is loaded at once,
// the staff card (a spend-only account) loads nothing. The console shows
// each outcome in Chinese and English; afterwards the journal holds the
// two loads, verifies, and no file of the device and no log line holds
// the holder's PIN.
func TestRunSimKiosk(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, 2*time.Minute, nil, "run", "--sim", "--kind", "kiosk", "--auto", "0", "--dir", dir)
	ctl := newCtl(t, dir, controlAddr(t, dir, r.done))
	ctx := context.Background()
	if h := ctl.health(); h.Kind != "kiosk" || h.Device != "SIM-KIOSK-01" {
		t.Fatalf("health %+v", h)
	}
	ctl.post("/sim/readers/sim:kiosk-1/tap", map[string]string{"card": "student"})
	recs := ctl.awaitTaps(1, time.Minute)
	if rec := recs[0]; rec.Flow != "kiosk" || rec.Service != "claim" || rec.Code != "loaded" || rec.Amount != 5000 ||
		rec.Balance != demoBalance(t, "student")+5000 || rec.Card != sim.DemoStudentNo {
		t.Fatalf("claim as the card was placed: %+v", rec)
	}
	var v kiosk.View
	if err := ctl.c.Get(ctx, "/v1/kiosk", &v); err != nil || v.State != "card" || v.Loadable != 0 {
		t.Fatalf("session %+v %v", v, err)
	}
	var a terminal.KioskAnswer
	if err := ctl.postInto("/v1/kiosk/transfer", map[string]any{"session": v.ID, "amount": 10000, "pin": "975318"}, &a); err != nil ||
		a.Code != "wrong_pin" || a.TriesLeft == 0 {
		t.Fatalf("transfer with a wrong PIN %+v %v", a, err)
	}
	if err := ctl.postInto("/v1/kiosk/transfer", map[string]any{"session": v.ID, "amount": 10000, "pin": "123456"}, &a); err != nil ||
		a.Outcome != kiosk.Loaded || a.Amount != 10000 || a.TransferID == "" {
		t.Fatalf("transfer %+v %v", a, err)
	}
	ctl.post("/sim/readers/sim:kiosk-1/remove", nil)
	ctl.post("/sim/readers/sim:kiosk-1/tap", map[string]string{"card": "staff"})
	recs = ctl.awaitTaps(4, time.Minute)
	if rec := recs[3]; rec.Card != sim.DemoStaffNo || rec.Outcome == "loaded" {
		t.Fatalf("spend-only account: %+v", rec)
	}
	ctl.post("/sim/readers/sim:kiosk-1/remove", nil)
	// The kiosk's steps in the fleet's metrics, and its PSAM up.
	fams := scrape(t, ctl)
	if v := metricValue(fams, "yktd_taps_total", map[string]string{"kind": "kiosk", "outcome": "loaded", "reason": "loaded"}); v != 2 {
		t.Errorf("yktd_taps_total{kind=kiosk,outcome=loaded,reason=loaded} = %v, want 2 (the claim and the transfer)", v)
	}
	if v := metricValue(fams, "yktd_psam_up", nil); v != 1 {
		t.Errorf("yktd_psam_up = %v, want 1", v)
	}
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, r.stderr)
	}
	for _, want := range []string{"圈存成功", "Loaded", "密码错误", "Wrong PIN"} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("the console does not show %q:\n%s", want, r.stdout)
		}
	}
	if st := cardStatus(t, dir, "student"); int64(st.Balance) != demoBalance(t, "student")+15000 {
		t.Errorf("student card balance %d, want %d", st.Balance, demoBalance(t, "student")+15000)
	}
	if st := cardStatus(t, dir, "staff"); int64(st.Balance) != demoBalance(t, "staff") {
		t.Errorf("staff card balance %d: loaded onto a spend-only account", st.Balance)
	}
	var loads []protocol.Record
	for _, e := range journal(t, filepath.Join(dir, "yktd.db")) {
		if e.Record.Kind == protocol.KindLoad {
			loads = append(loads, e.Record)
		}
	}
	if len(loads) != 2 || loads[0].Amount != 5000 || loads[1].Amount != 10000 {
		t.Fatalf("load records %+v", loads)
	}
	noSecretIn(t, dir, r.stderr.String(), r.stdout.String())
}

// noSecretIn fails if the holder's PINs of the test appear in the log, the
// console or any file of the device in dir (its store, identity, control
// token). The virtual cards (dir/cards: the card's own EEPROM holds its
// PIN) and the in-process ledger (dir/ledger) are not the device's.
func noSecretIn(t *testing.T, dir string, texts ...string) {
	t.Helper()
	secrets := [][]byte{[]byte("123456"), []byte("975318")}
	for _, s := range secrets {
		for _, text := range texts {
			if bytes.Contains([]byte(text), s) {
				t.Errorf("the log or console holds the PIN %s", s)
			}
		}
	}
	err := filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && (de.Name() == "cards" || de.Name() == "ledger") {
			return filepath.SkipDir
		}
		if de.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds the PIN %s", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
