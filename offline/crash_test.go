package offline_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

const crashEnv = "YKTD_OFFLINE_CRASH_HELPER"

// TestHelperProcess is the child of TestCrashKill: it opens the store named
// by the environment and runs purchases from two goroutines (so completions
// share group commits) until it is killed, printing "seq N" for every
// sequence after the commit that wrote it returned.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrashKill")
	}
	s, err := offline.Open(path, offline.Options{DeviceID: "crash"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var mu sync.Mutex
	report := func(kind string, seq uint64) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "%s %d\n", kind, seq)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	// Resolve what the previous run left, as the terminal does at start.
	left, err := s.Intents()
	if err != nil {
		fail(err)
	}
	for _, in := range left {
		seq, err := s.VoidIntent(in.ID, "restart")
		if err != nil {
			fail(err)
		}
		report("seq", seq)
	}
	worker := func(g int) {
		for i := 0; ; i++ {
			in, err := s.OpenIntent(purchase(fmt.Sprintf("card%d", g), int64(100+i)))
			if err != nil {
				fail(err)
			}
			report("seq", in.ID)
			var seq uint64
			switch i % 4 {
			case 0, 1:
				seq, err = s.CompleteIntent(in.ID, done)
			case 2:
				seq, err = s.VoidIntent(in.ID, "declined")
			case 3:
				seq, err = s.MarkUncertain(in.ID, "torn")
			}
			if err != nil {
				fail(err)
			}
			report("seq", seq)
		}
	}
	go worker(1)
	worker(2)
}

// TestCrashKill kills a real process writing purchases with SIGKILL at
// random moments and checks after each kill that the store verifies, has no
// sequence gap, holds every sequence the child saw committed, and lost no
// intent.
func TestCrashKill(t *testing.T) {
	kills := 30
	if testing.Short() {
		kills = 5
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	committed := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 42))
	for k := 0; k < kills; k++ {
		cmd, out, stderr, err := startHelper(path)
		if err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-execute the test binary here (qemu-user without binfmt_misc and no qemu on PATH): %v", err)
			}
			t.Fatal(err)
		}
		// Kill after a random number of committed operations: the child keeps
		// running while we read, so the kill lands at a random point of its
		// next transaction.
		want := 1 + rng.IntN(60)
		sc := bufio.NewScanner(out)
		got := 0
		for got < want && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 || f[0] != "seq" {
				continue
			}
			seq, _ := strconv.ParseUint(f[1], 10, 64)
			committed[seq] = true
			got++
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		// Read what the child printed before dying: those commits returned too.
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "seq" {
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				committed[seq] = true
			}
		}
		werr := cmd.Wait()
		if got < want {
			t.Fatalf("kill %d: child ended early after %d operations: %v\n%s", k, got, werr, stderr.String())
		}
		checkAfterCrash(t, k, path, committed)
	}
}

// startHelper starts the test binary as the crash helper.
func startHelper(path string) (*exec.Cmd, io.Reader, *strings.Builder, error) {
	cmd := selfCommand("^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, out, stderr, nil
}

// selfCommand is this test binary run again for the tests matching run.
// Under qemu-user without binfmt_misc the emulated binary cannot exec
// itself (ENOEXEC); then the host's qemu-<arch>-static runs it, as go test
// -exec did.
func selfCommand(run string) *exec.Cmd {
	selfOnce.Do(func() {
		err := exec.Command(os.Args[0], "-test.run=^$").Run()
		if !errors.Is(err, syscall.ENOEXEC) {
			return
		}
		arch := runtime.GOARCH
		if arch == "arm64" {
			arch = "aarch64"
		}
		if qemu, lerr := exec.LookPath("qemu-" + arch + "-static"); lerr == nil {
			selfPrefix = []string{qemu}
		}
	})
	args := append(append(slices.Clone(selfPrefix), os.Args[0]), "-test.run="+run)
	return exec.Command(args[0], args[1:]...)
}

var (
	selfOnce   sync.Once
	selfPrefix []string // the emulator that runs this binary, or none
)

func checkAfterCrash(t *testing.T, k int, path string, committed map[uint64]bool) {
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
	if res.First != 1 || res.Count != res.Head.Seq {
		t.Fatalf("kill %d: gap: %d records from %d to %d", k, res.Count, res.First, res.Head.Seq)
	}
	for seq := range committed {
		if seq > res.Head.Seq {
			t.Fatalf("kill %d: committed sequence %d lost (head %d)", k, seq, res.Head.Seq)
		}
	}
	es, err := s.Records(0, int(res.Head.Seq))
	if err != nil {
		t.Fatal(err)
	}
	resolved := map[uint64]protocol.Kind{}
	uncertain := map[uint64]bool{}
	for _, e := range es {
		switch e.Record.Kind {
		case protocol.KindPurchaseCompleted, protocol.KindPurchaseVoided:
			if prev, dup := resolved[e.Record.IntentID]; dup {
				t.Fatalf("kill %d: intent %d resolved twice (%v, %v)", k, e.Record.IntentID, prev, e.Record.Kind)
			}
			resolved[e.Record.IntentID] = e.Record.Kind
		case protocol.KindPurchaseUncertain:
			uncertain[e.Record.IntentID] = true
		}
	}
	ins, err := s.Intents()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[uint64]offline.Intent{}
	for _, in := range ins {
		stored[in.ID] = in
		if _, ok := resolved[in.ID]; ok {
			t.Fatalf("kill %d: intent %d still stored after its resolution record", k, in.ID)
		}
		if (in.State == offline.IntentUncertain) != uncertain[in.ID] {
			t.Fatalf("kill %d: intent %d state %v disagrees with the journal", k, in.ID, in.State)
		}
	}
	for _, e := range es {
		if e.Record.Kind != protocol.KindPurchaseIntent {
			continue
		}
		_, isStored := stored[e.Record.Seq]
		_, isResolved := resolved[e.Record.Seq]
		if !isStored && !isResolved {
			t.Fatalf("kill %d: intent %d lost: neither stored nor resolved", k, e.Record.Seq)
		}
	}
}
