package offline_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

const loadCrashEnv = "YKTD_OFFLINE_LOAD_CRASH_HELPER"

// TestLoadHelperProcess is the child of TestLoadCrashKill: it runs load
// intents through every path (credited and settled, credited by log,
// voided, uncertain then credited) on cards named after the intent's
// order, printing "open CARD ID", "complete CARD SEQ", "void CARD" and
// "settle CARD" after each commit returned, until it is killed.
func TestLoadHelperProcess(t *testing.T) {
	path := os.Getenv(loadCrashEnv)
	if path == "" {
		t.Skip("helper process for TestLoadCrashKill")
	}
	s, err := offline.Open(path, offline.Options{DeviceID: "crash"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	left, err := s.Loads()
	if err != nil {
		fail(err)
	}
	base := len(left)
	h, err := s.Head()
	if err != nil {
		fail(err)
	}
	for i := 0; ; i++ {
		card := fmt.Sprintf("L%d-%d", h.Seq, i+base)
		l, err := s.OpenLoad(loadIntent(card, 100))
		if err != nil {
			fail(err)
		}
		fmt.Printf("open %s %d\n", card, l.ID)
		credit := offline.LoadCompletion{BalanceAfter: 10_100, TAC: tac}
		switch i % 4 {
		case 0:
			seq, err := s.CompleteLoad(l.ID, credit)
			if err != nil {
				fail(err)
			}
			fmt.Printf("complete %s %d\n", card, seq)
			if err := s.SettleLoad(l.ID); err != nil {
				fail(err)
			}
			fmt.Printf("settle %s\n", card)
		case 1:
			seq, err := s.CompleteLoad(l.ID, offline.LoadCompletion{BalanceAfter: 10_100, ByLog: true})
			if err != nil {
				fail(err)
			}
			fmt.Printf("complete %s %d\n", card, seq)
		case 2:
			if err := s.VoidLoad(l.ID, "counter-unchanged"); err != nil {
				fail(err)
			}
			fmt.Printf("void %s\n", card)
		case 3:
			if err := s.MarkLoadUncertain(l.ID, "card-removed"); err != nil {
				fail(err)
			}
			seq, err := s.CompleteLoad(l.ID, credit)
			if err != nil {
				fail(err)
			}
			fmt.Printf("complete %s %d\n", card, seq)
		}
	}
}

// TestLoadCrashKill kills a real process writing load intents with
// SIGKILL at random moments and checks after each kill: the store and its
// chain verify; each load intent the child saw committed is still stored
// or was journaled; every load is journaled at most once, and one
// journaled is never still open or uncertain; a credited intent names its
// record; what the child saw completed is journaled, what it saw voided
// or settled is in that state or gone.
func TestLoadCrashKill(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 4
	}
	path := t.TempDir() + "/loads.db"
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 7))
	seen := map[string]string{} // card → last step the child printed
	for k := 0; k < kills; k++ {
		cmd := selfCommand("^TestLoadHelperProcess$")
		cmd.Env = append(os.Environ(), loadCrashEnv+"="+path)
		stderr := &strings.Builder{}
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err) // selfCommand runs it through qemu-user where it must
		}
		want := 1 + rng.IntN(40)
		sc := bufio.NewScanner(out)
		got := 0
		note := func(line string) bool {
			f := strings.Fields(line)
			if len(f) < 2 {
				return false
			}
			seen[f[1]] = f[0]
			return true
		}
		for got < want && sc.Scan() {
			if note(sc.Text()) {
				got++
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() {
			note(sc.Text())
		}
		werr := cmd.Wait()
		if got < want {
			t.Fatalf("kill %d: child ended early after %d steps: %v\n%s", k, got, werr, stderr.String())
		}
		checkLoadsAfterCrash(t, k, path, seen)
	}
}

func checkLoadsAfterCrash(t *testing.T, k int, path string, seen map[string]string) {
	t.Helper()
	s, err := offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", k, err)
	}
	defer s.Close()
	res, err := s.Verify()
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	if err := s.CheckConsistency(); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	es, err := s.Records(0, int(res.Head.Seq)+1)
	if err != nil {
		t.Fatal(err)
	}
	journaled := map[string]uint64{}
	for _, e := range es {
		if e.Record.Kind != protocol.KindLoad {
			continue
		}
		if _, dup := journaled[e.Record.CardNo]; dup {
			t.Fatalf("kill %d: load of card %s journaled twice", k, e.Record.CardNo)
		}
		journaled[e.Record.CardNo] = e.Record.Seq
	}
	ls, err := s.Loads()
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	stored := map[string]offline.Load{}
	for _, l := range ls {
		stored[l.CardNo] = l
		seq, isJournaled := journaled[l.CardNo]
		switch l.State {
		case offline.LoadCredited:
			if !isJournaled || seq != l.Seq {
				t.Fatalf("kill %d: credited load %s names record %d, journal has %d (%v)", k, l.CardNo, l.Seq, seq, isJournaled)
			}
		default:
			if isJournaled {
				t.Fatalf("kill %d: load %s journaled but still %v", k, l.CardNo, l.State)
			}
		}
	}
	for card, step := range seen {
		l, isStored := stored[card]
		_, isJournaled := journaled[card]
		switch step {
		case "open":
			if !isStored && !isJournaled {
				t.Fatalf("kill %d: load %s lost: neither stored nor journaled", k, card)
			}
		case "complete":
			if !isJournaled {
				t.Fatalf("kill %d: completed load %s not journaled", k, card)
			}
		case "void":
			if !isStored || l.State != offline.LoadVoided || isJournaled {
				t.Fatalf("kill %d: voided load %s: stored %v %+v, journaled %v", k, card, isStored, l, isJournaled)
			}
		case "settle":
			if isStored || !isJournaled {
				t.Fatalf("kill %d: settled load %s: stored %v, journaled %v", k, card, isStored, isJournaled)
			}
		}
	}
}
