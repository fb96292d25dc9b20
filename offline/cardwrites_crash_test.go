package offline_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

const cardWriteCrashEnv = "YKTD_OFFLINE_CARDWRITE_CRASH_HELPER"

// TestCardWriteHelperProcess is the child of TestCardWriteCrashKill: it
// runs card writes through every path (written, reported and forgotten;
// torn then written; failed and reported), printing after each commit
// returned "open ID", "settle ID OUTCOME SEQ", "reported ID" and "forget
// ID", until it is killed.
func TestCardWriteHelperProcess(t *testing.T) {
	path := os.Getenv(cardWriteCrashEnv)
	if path == "" {
		t.Skip("helper process for TestCardWriteCrashKill")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	s, err := offline.Open(path, offline.Options{DeviceID: "crash"})
	if err != nil {
		fail(err)
	}
	h, err := s.Head()
	if err != nil {
		fail(err)
	}
	settle := func(id, outcome string, echo offline.CardWriteEcho) {
		w, err := s.SettleCardWrite(id, outcome, echo)
		if err != nil {
			fail(err)
		}
		fmt.Printf("settle %s %s %d\n", id, outcome, w.Seq)
	}
	report := func(id, outcome string) {
		if err := s.MarkCardWriteReported(id, outcome); err != nil {
			fail(err)
		}
		fmt.Printf("reported %s\n", id)
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("W-%d-%d", h.Seq, i)
		if _, err := s.OpenCardWrite(limitWrite(id, fmt.Sprintf("C%d", i%5))); err != nil {
			fail(err)
		}
		fmt.Printf("open %s\n", id)
		switch i % 3 {
		case 0:
			settle(id, offline.CardWriteWritten, limitEcho)
			report(id, offline.CardWriteWritten)
			if err := s.ForgetCardWrite(id); err != nil {
				fail(err)
			}
			fmt.Printf("forget %s\n", id)
		case 1:
			settle(id, offline.CardWriteTornUnknown, offline.CardWriteEcho{})
			settle(id, offline.CardWriteWritten, limitEcho)
		case 2:
			settle(id, offline.CardWriteFailed, offline.CardWriteEcho{})
			report(id, offline.CardWriteFailed)
		}
	}
}

// cwStep is the last step the child printed for a write.
type cwStep struct {
	step, outcome string
	seq           uint64
}

// TestCardWriteCrashKill kills a real process writing card-write intents
// with SIGKILL at random moments and checks after each kill: the store
// and its chain verify; every intent the child saw opened is stored or,
// once reported, forgotten; a stored settlement names its card-write
// record (same write id and outcome) and the write has no record after
// it; an open intent has no record; what the child saw settled is
// journaled and the intent is at that settlement or a later one; what it
// saw reported stays reported unless forgotten; no settlement is
// journaled twice.
func TestCardWriteCrashKill(t *testing.T) {
	kills := 16
	if testing.Short() {
		kills = 4
	}
	path := t.TempDir() + "/cardwrites.db"
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 11))
	seen := map[string]cwStep{}
	for k := 0; k < kills; k++ {
		cmd := selfCommand("^TestCardWriteHelperProcess$")
		cmd.Env = append(os.Environ(), cardWriteCrashEnv+"="+path)
		stderr := &strings.Builder{}
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := 1 + rng.IntN(40)
		sc := bufio.NewScanner(out)
		got := 0
		note := func(line string) bool {
			f := strings.Fields(line)
			if len(f) < 2 {
				return false
			}
			st := cwStep{step: f[0]}
			if f[0] == "settle" && len(f) == 4 {
				st.outcome = f[2]
				st.seq, _ = strconv.ParseUint(f[3], 10, 64)
			}
			if f[0] == "reported" {
				st.outcome = seen[f[1]].outcome
				st.seq = seen[f[1]].seq
			}
			seen[f[1]] = st
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
		checkCardWritesAfterCrash(t, k, path, seen)
	}
}

func checkCardWritesAfterCrash(t *testing.T, k int, path string, seen map[string]cwStep) {
	t.Helper()
	s, err := offline.Open(path, offline.Options{})
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", k, err)
	}
	defer s.Close()
	if _, err := s.Verify(); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	if err := s.CheckConsistency(); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	bySeq := map[uint64]protocol.Record{}
	last := map[string]uint64{}       // write id → its last card-write record
	outcomes := map[string][]string{} // write id → its records' outcomes
	for _, r := range cardWriteRecords(t, s) {
		bySeq[r.Seq] = r
		last[r.Ref] = r.Seq
		outcomes[r.Ref] = append(outcomes[r.Ref], r.Reason)
	}
	for id, outs := range outcomes {
		// at most: torn, written (case 1) or one final outcome.
		if len(outs) > 2 || (len(outs) == 2 && (outs[0] != offline.CardWriteTornUnknown || outs[1] != offline.CardWriteWritten)) {
			t.Fatalf("kill %d: write %s journaled %v", k, id, outs)
		}
	}
	all, err := s.CardWrites()
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	stored := map[string]offline.CardWriteIntent{}
	for _, w := range all {
		stored[w.WriteID] = w
		switch {
		case w.Outcome == "" && last[w.WriteID] != 0:
			t.Fatalf("kill %d: open write %s has record %d", k, w.WriteID, last[w.WriteID])
		case w.Outcome != "":
			r, ok := bySeq[w.Seq]
			if !ok || r.Ref != w.WriteID || r.Reason != w.Outcome || last[w.WriteID] != w.Seq || r.CardNo != w.CardNo {
				t.Fatalf("kill %d: write %s %s names record %d (%+v, found %v), its last is %d", k, w.WriteID, w.Outcome, w.Seq, r, ok, last[w.WriteID])
			}
		}
	}
	for id, st := range seen {
		w, isStored := stored[id]
		switch st.step {
		case "open":
			if !isStored {
				t.Fatalf("kill %d: write %s lost", k, id)
			}
		case "settle":
			if r, ok := bySeq[st.seq]; !ok || r.Ref != id || r.Reason != st.outcome {
				t.Fatalf("kill %d: settlement %s %s at %d not journaled", k, id, st.outcome, st.seq)
			}
			if !isStored || w.Seq < st.seq {
				t.Fatalf("kill %d: write %s settled %s at %d, stored %v %+v", k, id, st.outcome, st.seq, isStored, w)
			}
		case "reported":
			if isStored && (!w.Reported || w.Seq != st.seq) {
				t.Fatalf("kill %d: reported write %s is %+v", k, id, w)
			}
		case "forget":
			if isStored {
				t.Fatalf("kill %d: forgotten write %s still stored", k, id)
			}
		}
	}
}
