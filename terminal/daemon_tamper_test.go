package terminal_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/board"
	"github.com/openykt/yktd/board/boardtest"
	"github.com/openykt/yktd/internal/testbuf"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader"
	"github.com/openykt/yktd/reader/sam"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/policy"
	"github.com/openykt/yktd/terminal/ui/uitest"
)

// tamperRig is a canteen POS with a case-open switch on its board.
type tamperRig struct {
	*daemonRig
	fake *boardtest.Fake
	ctl  *terminal.ControlClient
	path string
}

func startTamperPOS(t *testing.T, path string) *tamperRig {
	t.Helper()
	clock := offlinetest.NewClock(testNow)
	store, err := offline.Open(path, offline.Options{DeviceID: "pos-daemon-01", Clock: clock, GroupCommitDelay: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	if si, _ := store.StatusInfo(); si.Version == 0 {
		applySignedList(t, store, 1)
	}
	fake, err := boardtest.New(board.Spec{Inputs: []board.InputSpec{{Name: "case"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sam.NewSoftware(sam.TestKeys())
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemonConfig("127.0.0.1:0")
	cfg.Device.DataDir = filepath.Dir(path)
	cfg.Board.Tamper = "case"
	r := &daemonRig{t: t, store: store, clock: clock, rdr: sim.NewReader("sim:pos", reader.TechISO14443A),
		disp: uitest.New(), logs: &testbuf.Buffer{}}
	r.d, err = terminal.NewDaemon(cfg, terminal.DaemonDeps{Store: store, Board: fake.Board, Readers: []reader.Reader{r.rdr}, SAM: s,
		Display: r.disp, Keypad: r.disp, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(r.logs, nil))})
	if err != nil {
		_ = store.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = r.stop() })
	ctl, err := terminal.NewControlClient(cfg.Device.DataDir, r.d.ControlAddr())
	if err != nil {
		t.Fatal(err)
	}
	return &tamperRig{daemonRig: r, fake: fake, ctl: ctl, path: path}
}

func (r *tamperRig) clear(technician string) error {
	return r.ctl.Post(context.Background(), "/v1/tamper/clear", map[string]string{"technician": technician}, nil)
}

// TestTamperStopsMoney: the case-open input turning active journals an
// alarm and the POS takes no money, with the reason on the display and
// in /v1/health; the hold survives a restart; a technician's clear is
// refused while the case is open and without the credential, then, case
// closed, journaled with the name, and the POS sells again.
func TestTamperStopsMoney(t *testing.T) {
	path := filepath.Join(t.TempDir(), "yktd.db")
	r := startTamperPOS(t, path)
	card := demoCard(t, "student", "", 0)
	if rec := r.tap(card); rec.Outcome != "paid" {
		t.Fatalf("sale before: %+v", rec)
	}
	if err := r.fake.SetInput("case", true); err != nil {
		t.Fatal(err)
	}
	r.awaitHealth("tampered", func(h terminal.Health) bool {
		return !h.Working && len(h.Holds) > 0 && h.Holds[0].Code == string(policy.CodeTampered)
	})
	r.clock.Advance(time.Minute)
	if rec := r.tap(card); rec.Outcome != "refused" || rec.Code != string(policy.CodeTampered) || balance(card) != 10000-1250 {
		t.Fatalf("sale with the case open: %+v", rec)
	}
	if m := lastOf(r.disp.Shown()); m.ZH != "机壳已被打开 暂停收款 请联系技术员" || m.EN != "Case opened: no sales, call the technician" {
		t.Fatalf("display %+v", m)
	}
	var ce *terminal.ControlError
	if err := r.clear("wang"); !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Code != terminal.CtlTamperActive {
		t.Fatalf("clear with the case open: %v", err)
	}
	if err := r.fake.SetInput("case", false); err != nil {
		t.Fatal(err)
	}
	// A restart keeps the hold: the case was opened and nobody cleared it.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r = startTamperPOS(t, path)
	r.awaitHealth("tampered after the restart", func(h terminal.Health) bool { return !h.Working })
	if resp, err := http.Post(r.ctl.URL("/v1/tamper/clear"), "application/json", nil); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("clear without the credential: %s", resp.Status)
	}
	if err := r.clear("wang"); err != nil {
		t.Fatal(err)
	}
	r.awaitHealth("working", func(h terminal.Health) bool { return h.Working })
	r.clock.Advance(time.Minute)
	if rec := r.tap(card); rec.Outcome != "paid" {
		t.Fatalf("sale after the clear: %+v", rec)
	}
	var alarms []string
	for _, rc := range kindsOf(t, r.store, protocol.KindAlarm) {
		alarms = append(alarms, rc.Reason)
	}
	if len(alarms) != 2 || alarms[0] != "tamper" || alarms[1] != "tamper-cleared by wang" {
		t.Fatalf("alarm records %v", alarms)
	}
}
