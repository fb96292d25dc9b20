package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openykt/yktd/internal/pcscdtest"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/reader/vpcd"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/pos"
)

// A PSAM in a PC/SC slot stays usable after openSAM returned: the card it
// hands to the SAM is not closed with the context of the wait for it.
func TestPSAMOpenKeepsTheCard(t *testing.T) {
	rig := pcscdtest.Need(t, listVPCD)
	t.Cleanup(func() { rig.Daemon.DumpLog(t) })
	waitReaderEmpty(t, pcscdtest.Reader1)
	ctx, cancel := context.WithCancel(context.Background())
	slot := &vpcd.Slot{Addr: pcscdtest.Addr1, Log: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	wg.Go(func() { _ = slot.Run(ctx) })
	t.Cleanup(func() {
		slot.Remove()
		cancel()
		wg.Wait()
	})
	psam := sim.NewDemoPSAM()
	slot.Present(psam)

	var logs testbuf.Buffer
	s, stop, err := openSAM(ctx, "pcsc:"+pcscdtest.Reader1, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("openSAM: %v\n%s", err, logs.String())
	}
	t.Cleanup(stop)
	tid, err := s.TerminalID(ctx)
	if err != nil {
		t.Fatalf("TerminalID of the PSAM openSAM returned: %v\n%s", err, logs.String())
	}
	if want := sam.TestKeys().TerminalID; tid != want {
		t.Errorf("terminal id %X, want the demo PSAM's %X", tid, want)
	}
	req := epurse.SAMPurchaseRequest{Random: [4]byte{1, 2, 3, 4}, OfflineCounter: 3, Amount: 1250, Type: epurse.TxPurchase,
		Time: epurse.NewDateTime(time.Now()), KeyVersion: 1, Algorithm: epurse.AlgDES, CardSerial: [8]byte{0x20, 0x26, 9, 1, 0, 0, 0, 1}}
	if _, _, err := s.InitPurchase(ctx, req); err != nil {
		t.Fatalf("INIT SAM FOR PURCHASE: %v\n%s", err, logs.String())
	}
	if psam.Sequence() != 1 {
		t.Errorf("PSAM sequence %d after one INIT SAM FOR PURCHASE", psam.Sequence())
	}
}

// Without a PSAM at start, openSAM waits a bounded time, says in the log
// that the PSAM is missing and why, and returns a SAM that refuses at once
// (a SAM fault, not the customer's card) until the PSAM is seated: then it
// works without a restart.
func TestPSAMMissingAtStart(t *testing.T) {
	rig := pcscdtest.Need(t, listVPCD)
	t.Cleanup(func() { rig.Daemon.DumpLog(t) })
	waitReaderEmpty(t, pcscdtest.Reader1)
	old := psamStartWait
	psamStartWait = 300 * time.Millisecond
	t.Cleanup(func() { psamStartWait = old })
	ctx, cancel := context.WithCancel(context.Background())
	slot := &vpcd.Slot{Addr: pcscdtest.Addr1, Log: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	wg.Go(func() { _ = slot.Run(ctx) })
	t.Cleanup(func() {
		slot.Remove()
		cancel()
		wg.Wait()
	})

	var logs testbuf.Buffer
	s, stop, err := openSAM(ctx, "pcsc:"+pcscdtest.Reader1, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("openSAM without a PSAM: %v", err)
	}
	t.Cleanup(stop)
	logs.WaitFor(t, `level=ERROR msg="PSAM missing at start: every sale is refused (SAM fault) until a PSAM is seated; the terminal keeps looking for it" reader="`+pcscdtest.Reader1+`"`, time.Second)
	_, err = s.TerminalID(ctx)
	if !errors.Is(err, sam.ErrNoSAM) || errors.Is(err, reader.ErrCardRemoved) || errors.Is(err, reader.ErrTransport) {
		t.Fatalf("TerminalID without a PSAM: %v, want sam.ErrNoSAM and no reader error", err)
	}

	slot.Present(sim.NewDemoPSAM())
	logs.WaitFor(t, `msg="sam: PSAM ready"`, 10*time.Second)
	if tid, err := s.TerminalID(ctx); err != nil || tid != sam.TestKeys().TerminalID {
		t.Fatalf("TerminalID once the PSAM is seated: %X, %v", tid, err)
	}
}

// psamPOSConfig is the device configuration of the end-to-end test: the
// customer's reader on vpcd slot 0, the PSAM on slot 1, a fixed-price
// canteen window syncing with the test's ledger, the control interface on
// a unix socket.
const psamPOSConfig = `[device]
id = "POS-PSAM-E2E-01"
kind = "pos"
data_dir = %q
sam = "pcsc:%s"
log_format = "text"

[[reader]]
name = "window"
driver = "pcsc"
match = %q

[board]
backend = "fake"

[pos]
mode = "fixed"
price_fen = 1250
repeat_guard = "1ms"

[sync]
ledger = %q
insecure = true # the test's ledger on loopback
ledger_key = %q
interval = "1s"
min_backoff = "100ms"
max_backoff = "1s"

[control]
listen = "unix:%s"
`

// TestPSAMBehindPCSCDSells is issue 10 item 1 end to end: `yktd run
// --config` with the customer card (`yktd rig vcard --state`) in one vpcd
// slot and the PSAM card (`yktd rig vcard --psam`) in the other, behind a
// real `pcscd -f`, enrolled with a real ledger, selling through the
// control interface. It sells, then the PSAM is taken out (a tap meanwhile
// is a SAM fault that debits nothing), put back, and the terminal sells
// again; pcscd is killed and restarted, and the terminal sells again. The
// journal holds the three sales with TACs the ledger verifies, and the
// card's saved state the three debits.
func TestPSAMBehindPCSCDSells(t *testing.T) {
	began := time.Now()
	dir := t.TempDir()
	bin := buildYktd(t, dir)
	rig := pcscdtest.Need(t, listVPCD)
	pcscd := rig.Own(t)
	t.Cleanup(func() { pcscd.DumpLog(t) })
	waitReaderEmpty(t, pcscdtest.Reader0)
	waitReaderEmpty(t, pcscdtest.Reader1)

	tl := ledgertest.Start(t, ledgertest.Options{})
	const device = "POS-PSAM-E2E-01"
	token, _, err := tl.NewToken(device, protocol.DevicePOS.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tl.SetStatus(sim.DemoLostNo, ledger.ReasonLost); err != nil {
		t.Fatal(err)
	}
	cardFile := filepath.Join(dir, "student.json")
	card, err := sim.NewDemoCard("student")
	if err != nil {
		t.Fatal(err)
	}
	if err := card.Save(cardFile); err != nil {
		t.Fatal(err)
	}
	start := int64(card.Status().Balance)
	balance := func() sim.Status {
		t.Helper()
		c, err := sim.LoadCard(cardFile)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status()
	}

	data := filepath.Join(dir, "data")
	socket := filepath.Join(dir, "control.sock")
	cfg := filepath.Join(dir, "pos.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, psamPOSConfig, data, pcscdtest.Reader1, pcscdtest.Reader0, tl.URL, tl.Fingerprint(), socket), 0o600); err != nil {
		t.Fatal(err)
	}
	_, psamPort, _ := net.SplitHostPort(pcscdtest.Addr1)
	_, cardPort, _ := net.SplitHostPort(pcscdtest.Addr0)
	seatPSAM := func() *logProc {
		return startLogProc(t, dir, "psam-vcard", bin, "rig", "vcard", "--psam", "--port", psamPort)
	}
	psam := seatPSAM()
	daemon := startLogProc(t, dir, "yktd-run", bin, "run", "--config", cfg, "--enrol", token)
	ctl := newControlClient(socket)
	ctl.waitUp(t, daemon)
	daemon.waitLog(t, "status list replaced", 1, 30*time.Second)

	// tap presents the card until the daemon reported the tap, then takes
	// it away.
	var last uint64
	tap := func() terminal.TapRecord {
		t.Helper()
		c := startLogProc(t, dir, "card-vcard", bin, "rig", "vcard", "--state", cardFile, "--port", cardPort)
		rec := ctl.nextTap(t, last, daemon)
		last = rec.N
		if code := c.stop(t); code != 0 {
			t.Fatalf("rig vcard exit %d\n%s", code, c.logTail())
		}
		waitReaderEmpty(t, pcscdtest.Reader0)
		return rec
	}
	sold := 0
	sell := func(when string) {
		t.Helper()
		rec := tap()
		sold++
		want := start - int64(sold)*1250
		if rec.Outcome != "paid" || rec.Code != "ok" || rec.Card != sim.DemoStudentNo || rec.Amount != 1250 || rec.Balance != want {
			t.Fatalf("sale %s: %+v, want paid 1250 with balance %d\n%s", when, rec, want, daemon.logTail())
		}
		if st := balance(); int64(st.Balance) != want || int(st.OfflineCounter) != sold {
			t.Fatalf("card after the sale %s: balance %d, offline counter %d; want %d, %d", when, st.Balance, st.OfflineCounter, want, sold)
		}
	}

	sell("with the PSAM seated at start")

	// The PSAM is taken out: a tap is a SAM fault and debits nothing.
	if code := psam.stop(t); code != 0 {
		t.Fatalf("psam vcard exit %d", code)
	}
	waitReaderEmpty(t, pcscdtest.Reader1)
	daemon.waitLog(t, `msg="sam: PSAM removed:`, 1, 30*time.Second)
	if rec := tap(); rec.Outcome != "refused" || rec.Code != string(pos.CodeNoSAM) {
		t.Fatalf("tap without a PSAM: %+v, want refused %s\n%s", rec, pos.CodeNoSAM, daemon.logTail())
	}
	if st := balance(); int64(st.Balance) != start-1250 || st.OfflineCounter != 1 {
		t.Fatalf("a tap without a PSAM changed the card: %+v", st)
	}

	// Re-seated, it is found by itself.
	psam = seatPSAM()
	daemon.waitLog(t, `msg="sam: PSAM ready"`, 2, 30*time.Second)
	sell("after the PSAM was re-seated")

	// pcscd dies and comes back: the PSAM slot and the customer's reader
	// reconnect by themselves.
	if err := pcscd.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := pcscd.Start(); err != nil {
		t.Fatal(err)
	}
	daemon.waitLog(t, `msg="sam: PSAM ready"`, 3, 60*time.Second)
	sell("after pcscd was restarted")

	if code := daemon.stop(t); code != 0 {
		t.Fatalf("yktd run exit %d\n%s", code, daemon.logTail())
	}
	if code := psam.stop(t); code != 0 {
		t.Fatalf("psam vcard exit %d", code)
	}

	tid := sam.TestKeys().TerminalID
	var completed, intents int
	for _, e := range journal(t, filepath.Join(data, "yktd.db")) {
		r := e.Record
		switch r.Kind {
		case protocol.KindPurchaseIntent:
			intents++
		case protocol.KindPurchaseCompleted:
			completed++
			if res, why := tl.CheckPurchaseTAC(&r); res != ledger.TACVerified {
				t.Errorf("sale %d: TAC %X %s (%s)", r.Seq, r.TAC, res, why)
			}
			if r.CardNo != sim.DemoStudentNo || r.Amount != 1250 || string(r.TerminalID) != string(tid[:]) {
				t.Errorf("sale %d: card %s amount %d terminal %X", r.Seq, r.CardNo, r.Amount, r.TerminalID)
			}
		}
	}
	if completed != 3 || intents != 3 {
		t.Errorf("journal: %d intents and %d completed sales, want 3 and 3 (the tap without a PSAM opened none)", intents, completed)
	}
	if n := strings.Count(daemon.log(), `msg="sam: PSAM ready"`); n != 3 {
		t.Errorf("the PSAM was made ready %d times, want 3 (start, re-seat, pcscd restart)", n)
	}
	t.Logf("wall time %v", time.Since(began).Round(time.Millisecond))
}
