package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
	"github.com/openykt/yktd/terminal/kiosk"
)

const kioskCrashEnv = "YKTD_KIOSK_CRASH_DIR"

// TestKioskCrashHelper is the child of TestKioskCrashKill: `yktd run --sim
// --kind kiosk` (the reference ledger in the same process, its store in
// DIR/ledger) until it is killed or stopped with SIGTERM.
func TestKioskCrashHelper(t *testing.T) {
	dir := os.Getenv(kioskCrashEnv)
	if dir == "" {
		t.Skip("helper process for TestKioskCrashKill")
	}
	os.Exit(run([]string{"run", "--sim", "--kind", "kiosk", "--auto", "0", "--dir", dir, "--control", "127.0.0.1:0"},
		os.Stdout, os.Stderr))
}

// Demo figures of the student's account (ledger.DemoAccounts).
const (
	crashAccount     = "S2026001"
	crashBankAccount = "6222020000000001"
)

// TestKioskCrashKill drives the simulator's kiosk in a real process
// through its control interface: the student's card placed claims what
// waits, a 银校转账 of 1.00 adds to it, CREDIT FOR LOAD is torn on the card
// now and then, and the process (the kiosk and the in-process ledger) is
// killed with SIGKILL at random moments of a claim or a transfer and
// started again on the same directory. At the end, checked from the
// files: the card's balance, the account and the bank account add up to
// what they started with (no fen made or lost), every load the ledger
// completed is on the card and in the device's journal once, nothing is
// authorised and unsettled, no load intent is left, and the journal
// verifies.
func TestKioskCrashKill(t *testing.T) {
	rounds, killEvery, limit := 150, 3, 150*time.Second
	if testing.Short() {
		rounds, limit = 20, 90*time.Second
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "sim")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(tmp, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("daemon log (end):\n%s", b)
		}
	}()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))
	const rdr = "/sim/readers/sim:kiosk-1"

	d := startCrashDaemonOf(t, dir, logf, kioskCrashEnv, "^TestKioskCrashHelper$")
	defer func() {
		if d != nil {
			d.kill(t)
		}
	}()
	// The figures before anything moved, from the first run's ledger: read
	// through the process's own answers (its ledger is locked by it).
	startCard := demoBalance(t, "student")
	var seen uint64
	var kills, tears, transfers int
	outcomes := map[string]int{}
	deadline := time.Now().Add(limit)
	awaitTap := func() (terminal.TapRecord, bool) {
		for time.Now().Before(deadline) {
			recs, err := d.ctl.taps(seen, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				seen = r.N
				if r.Service != "transfer" { // the card's own step (the transfers are posted here)
					return r, true
				}
			}
		}
		return terminal.TapRecord{}, false
	}
	restart := func() {
		d.kill(t)
		kills++
		d, seen = startCrashDaemonOf(t, dir, logf, kioskCrashEnv, "^TestKioskCrashHelper$"), 0
	}
	killSoon := func() {
		time.Sleep(time.Duration(rng.IntN(30_001)) * time.Microsecond)
		restart()
	}
	for round := 0; round < rounds; round++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d rounds of %d; outcomes %v", limit, round, rounds, outcomes)
		}
		if rng.IntN(5) == 0 {
			kind := []string{"tear-after", "tear-before"}[rng.IntN(2)]
			d.ctl.post("/sim/cards/student/faults", map[string]any{"kind": kind, "ins": "credit", "nth": 1})
			tears++
		}
		d.ctl.post(rdr+"/tap", map[string]string{"card": "student"})
		if rng.IntN(killEvery) == 0 {
			killSoon()
			continue
		}
		rec, ok := awaitTap()
		if !ok {
			t.Fatalf("round %d: no tap record", round)
		}
		outcomes[rec.Service+"/"+rec.Code]++
		var v kiosk.View
		if err := d.ctl.c.Get(context.Background(), "/v1/kiosk", &v); err != nil {
			t.Fatal(err)
		}
		if v.State == "card" {
			body := map[string]any{"session": v.ID, "amount": 100, "pin": "123456"}
			if rng.IntN(killEvery) == 0 {
				go func(c *ctlClient) { _ = c.postInto("/v1/kiosk/transfer", body, nil) }(d.ctl)
				transfers++
				killSoon()
				continue
			}
			var a terminal.KioskAnswer
			if err := d.ctl.postInto("/v1/kiosk/transfer", body, &a); err != nil {
				t.Fatalf("round %d: transfer: %v", round, err)
			}
			transfers++
			outcomes["transfer/"+string(a.Code)]++
		}
		d.ctl.post(rdr+"/remove", nil)
	}
	// The card twice more, faults cleared, no kill: what a kill or a tear
	// left is settled from the card.
	if err := d.ctl.tryDelete("/sim/cards/student/faults"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d.ctl.post(rdr+"/tap", map[string]string{"card": "student"})
		if rec, ok := awaitTap(); ok {
			outcomes["final/"+rec.Code]++
		}
		d.ctl.post(rdr+"/remove", nil)
	}
	if code := d.term(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	d = nil
	t.Logf("%d rounds, %d kills, %d tears armed, %d transfers asked; outcomes %v", rounds, kills, tears, transfers, outcomes)
	if kills < rounds/killEvery/3 {
		t.Errorf("killed %d times in %d rounds, want about one in %d", kills, rounds, killEvery)
	}
	checkKioskInvariants(t, dir, startCard)
}

// checkKioskInvariants opens the ledger and the store the stopped kiosk
// left and checks the money.
func checkKioskInvariants(t *testing.T, dir string, startCard int64) {
	t.Helper()
	var startAccount, startBank int64
	for _, a := range ledger.DemoAccounts() {
		if a.Params.ID == crashAccount {
			startAccount, startBank = a.TopUp, a.BankBalance
		}
	}
	l, err := ledger.Open(filepath.Join(dir, "ledger"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.ShowAccount(crashAccount)
	if err != nil {
		t.Fatal(err)
	}
	bankBal, err := l.Bank().(interface{ Balance(string) (int64, error) }).Balance(crashBankAccount)
	if err != nil {
		t.Fatal(err)
	}
	card := int64(cardStatus(t, dir, "student").Balance)
	acct := rep.Account
	if acct.Authorised != 0 {
		t.Errorf("the account holds %d fen authorised and never settled", acct.Authorised)
	}
	if got, want := card+acct.Balance+bankBal, startCard+startAccount+startBank; got != want {
		t.Errorf("card %d + account %d + bank %d = %d, want the starting %d", card, acct.Balance, bankBal, got, want)
	}
	// Every load the ledger completed, once on the card: the card grew by
	// their sum.
	var done int64
	// A load is named by the card's online counter it was made at (the
	// load record carries it, not the ledger's id).
	doneIDs := map[uint32]int64{}
	for id := uint64(1); ; id++ {
		ld, err := l.LoadByID(id)
		if errors.Is(err, ledger.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ld.CardNo == sim.DemoStudentNo && ld.State == ledger.LoadDone {
			done += ld.Amount
			if _, dup := doneIDs[uint32(ld.OnlineCounter)]; dup {
				t.Errorf("two loads done at online counter %d", ld.OnlineCounter)
			}
			doneIDs[uint32(ld.OnlineCounter)] = ld.Amount
		}
	}
	if card-startCard != done {
		t.Errorf("the card grew by %d, the ledger completed loads of %d", card-startCard, done)
	}
	s, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Verify()
	if err != nil {
		t.Fatalf("journal does not verify: %v", err)
	}
	if res.First != 1 || res.Count != res.Head.Seq {
		t.Fatalf("journal has a gap: %d records from %d to %d", res.Count, res.First, res.Head.Seq)
	}
	if ls, err := s.Loads(); err != nil || len(ls) != 0 {
		t.Errorf("load intents left: %+v %v", ls, err)
	}
	es, err := s.Records(0, int(res.Head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	journaled := map[uint32]int{}
	var sum int64
	for _, e := range es {
		if e.Record.Kind == protocol.KindLoad {
			journaled[e.Record.CardCounter]++
			sum += e.Record.Amount
		}
	}
	for id, n := range journaled {
		if n != 1 {
			t.Errorf("load at counter %d journaled %d times", id, n)
		}
		if _, ok := doneIDs[id]; !ok {
			t.Errorf("load at counter %d journaled by the kiosk is not done at the ledger", id)
		}
	}
	if sum != done || len(journaled) != len(doneIDs) {
		t.Errorf("journal: %d loads of %d fen; ledger: %d done of %d fen", len(journaled), sum, len(doneIDs), done)
	}
	t.Logf("card %d → %d, account %d, bank %d; %d loads of %d fen", startCard, card, acct.Balance, bankBal, len(doneIDs), done)
}
