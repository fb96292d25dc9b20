package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/terminal"
)

// TestNewStoreEpochAtTheLedger is issue 10 item 8 with the real programs:
// a POS enrolled with a real `ledgerd` sells and uploads; its store is
// lost (deleted) while its identity stays; `yktd run` refuses to start
// (exit 4) rather than begin a chain the ledger would refuse as a fork;
// `yktd run --new-store` starts the next journal epoch, sells, and the
// ledger takes that epoch: the device's records of both epochs are held,
// the old epoch closed, the new one's sale counted.
func TestNewStoreEpochAtTheLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ledgerd and runs real processes")
	}
	l := startLedgerd(t)
	d := newDevice(t, l, "1s", "student")
	token := strings.TrimSpace(l.admin(t, "token", "new", "--data", l.data, "--device", d.id, "--kind", "pos"))

	sell := func(p *proc) {
		t.Helper()
		ctl := &rigCtl{t: t, dir: d.dir, addr: controlOf(t, p)}
		ctl.awaitHealth("working on the ledger's list", func(h terminal.Health) bool { return h.Working })
		if rec := ctl.tap("student"); rec.Outcome != "paid" || rec.Amount != 1250 {
			t.Fatalf("sale: %+v", rec)
		}
		head := ctl.health().Journal.Head
		ctl.awaitHealth("the sale uploaded", func(h terminal.Health) bool { return h.Journal.AckedThrough >= head })
		if code := p.term(t); code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", code, p.stderr.String())
		}
	}
	sell(startYktd(t, "run", "--config", d.config, "--enrol", token))
	hw0, _, _ := l.device(t, d.id)
	if hw0 == 0 {
		t.Fatal("the ledger holds nothing of the first store")
	}

	// The store is lost; the identity (device.key, ledger.pub) stays.
	if err := os.Remove(filepath.Join(d.dir, "yktd.db")); err != nil {
		t.Fatal(err)
	}
	p := startYktd(t, "run", "--config", d.config)
	if code := p.wait(t); code != 4 {
		t.Fatalf("start without its store: exit %d, want 4\nstderr:\n%s", code, p.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(d.dir, "yktd.db")); err == nil {
		t.Fatal("the refused start made a store")
	}

	sell(startYktd(t, "run", "--config", d.config, "--new-store"))
	var devs []ledger.Device
	if err := json.Unmarshal([]byte(l.admin(t, "device", "list", "--data", l.data, "--json")), &devs); err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Fatalf("devices %+v", devs)
	}
	dev := devs[0]
	if dev.Epoch != 1 || dev.HighWater == 0 || dev.EpochStarted.IsZero() || len(dev.Closed) != 1 || dev.Closed[0].HighWater != hw0 {
		t.Fatalf("the ledger's device after --new-store: epoch %d high water %d started %v closed %+v (first store's high water %d)",
			dev.Epoch, dev.HighWater, dev.EpochStarted, dev.Closed, hw0)
	}
	if dev.Stats.DebitCount != 2 || dev.Stats.Debits != 2*1250 {
		t.Fatalf("the ledger counts %d sales for %d fen, want both epochs' 2 for 2500", dev.Stats.DebitCount, dev.Stats.Debits)
	}
	if d.balance(t, "student") != 10000-2*1250 {
		t.Fatalf("card balance %d", d.balance(t, "student"))
	}
}
