package rig_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/internal/rig"
	"github.com/openykt/yktd/internal/rig/rigtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	rigtest.Cleanup()
	os.Exit(code)
}

// root is the module's directory, from internal/rig.
const root = "../.."

func scenarioFile(name string) string { return filepath.Join(root, "testdata", "rig", name) }

// TestRigRunner runs the real binaries on the runner's own scenarios, two
// at a time: a sale that reaches the ledger passes; a deliberately broken
// expectation fails the run, names the expectation and the step, keeps
// the scenario's directory and prints a timeline with the processes' logs,
// and the step after it never runs; a pending scenario is skipped with its
// issue, not run and not passed; a scenario with pending steps passes
// what runs and reports the rest pending. The JUnit XML says the same.
func TestRigRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ledgerd and yktd processes")
	}
	yktd, ledgerd := rigtest.Binaries(t, root)
	files := []string{scenarioFile("pass.toml"), scenarioFile("broken.toml"), scenarioFile("pending.toml"), scenarioFile("partial.toml")}
	sum, err := rig.Run(context.Background(), files, rig.Options{Yktd: yktd, Ledgerd: ledgerd, Parallel: 2, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	sum.WriteReport(&report, false)
	t.Logf("report:\n%s", report.String())

	pass, broken, pending, partial := sum.Results[0], sum.Results[1], sum.Results[2], sum.Results[3]
	if pass.Status != rig.StatusPassed || pass.Steps != 3 || len(pass.Pending) != 0 {
		t.Errorf("pass.toml: %s after %d steps: %s", pass.Status, pass.Steps, pass.Failure)
	}
	if pass.Dir != "" {
		t.Errorf("a passed scenario's directory %s is kept without Keep", pass.Dir)
	}
	if broken.Status != rig.StatusFailed || broken.Steps != 2 {
		t.Errorf("broken.toml: %s after %d steps, want failed at step 2", broken.Status, broken.Steps)
	}
	for _, want := range []string{"step 2 (line 21)", "card alice", "balance 8750, want 9000"} {
		if !strings.Contains(broken.Failure, want) {
			t.Errorf("broken.toml's failure %q does not say %q", broken.Failure, want)
		}
	}
	if _, err := os.Stat(broken.Dir); err != nil {
		t.Errorf("the failed scenario's directory: %v", err)
	}
	var tl bytes.Buffer
	broken.WriteTimeline(&tl)
	for _, want := range []string{"step 1 (line 16): tap alice at pos", "ok      tap at pos", "FAIL", "pos.stderr (end)", "yktd: running", "ledger.stderr (end)"} {
		if !strings.Contains(tl.String(), want) {
			t.Errorf("the timeline does not show %q:\n%s", want, tl.String())
		}
	}
	if strings.Contains(tl.String(), "never reached") {
		t.Errorf("the step after the failure ran:\n%s", tl.String())
	}
	if pending.Status != rig.StatusPending || len(pending.Pending) != 1 || pending.Pending[0].Issue != 14 || pending.Steps != 0 {
		t.Errorf("pending.toml: %s, %+v, %d steps run", pending.Status, pending.Pending, pending.Steps)
	}
	if partial.Status != rig.StatusPassed || partial.Steps != 1 || len(partial.Pending) != 2 ||
		partial.Pending[0].Issue != 10 || partial.Pending[1].Issue != 14 {
		t.Errorf("partial.toml: %s, %d steps, pending %+v: %s", partial.Status, partial.Steps, partial.Pending, partial.Failure)
	}
	if sum.OK() || sum.Passed != 2 || sum.Failed != 1 || sum.Pending != 1 || sum.Partial != 1 {
		t.Errorf("summary: ok %v, %d passed (%d partial), %d failed, %d pending", sum.OK(), sum.Passed, sum.Partial, sum.Failed, sum.Pending)
	}

	var x bytes.Buffer
	if err := sum.WriteJUnit(&x); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Skipped  int `xml:"skipped,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(x.Bytes(), &doc); err != nil || len(doc.Suites) != 1 {
		t.Fatalf("JUnit: %v\n%s", err, x.String())
	}
	s := doc.Suites[0]
	// 4 scenarios and 2 pending parts of partial.toml.
	if s.Tests != 6 || s.Failures != 1 || s.Skipped != 3 {
		t.Errorf("JUnit: %d tests, %d failures, %d skipped, want 6, 1, 3:\n%s", s.Tests, s.Failures, s.Skipped, x.String())
	}
	for _, c := range s.Cases {
		if c.Skipped != nil && !strings.Contains(c.Skipped.Message, "pending on issue") {
			t.Errorf("JUnit case %s skipped for %q", c.Name, c.Skipped.Message)
		}
	}
}

// TestRigRunnerRunPending: with RunPending the pending scenario runs (the
// lead's check after merging what it waits for), and its impossible
// expectation fails it.
func TestRigRunnerRunPending(t *testing.T) {
	if testing.Short() {
		t.Skip("starts yktd processes")
	}
	yktd, ledgerd := rigtest.Binaries(t, root)
	sum, err := rig.Run(context.Background(), []string{scenarioFile("pending.toml")},
		rig.Options{Yktd: yktd, Ledgerd: ledgerd, RunPending: true, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Results[0]
	if r.Status != rig.StatusFailed || !strings.Contains(r.Failure, "outcome paid, want impossible") {
		t.Errorf("pending.toml run anyway: %s: %s", r.Status, r.Failure)
	}
}

// TestRigRunnerLedgerClock: expect.accounts reads an account at the
// ledger, a clock step at "ledger" moves the ledger's clock a day ahead
// (the reissued card's 24 hours pass) and a restart keeps it; a wrong
// account expectation fails the scenario with the path and both values.
func TestRigRunnerLedgerClock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ledgerd processes")
	}
	yktd, ledgerd := rigtest.Binaries(t, root)
	sum, err := rig.Run(context.Background(), []string{scenarioFile("ledger-clock.toml")},
		rig.Options{Yktd: yktd, Ledgerd: ledgerd, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Results[0]
	var tl bytes.Buffer
	r.WriteTimeline(&tl)
	if r.Status != rig.StatusFailed || r.Steps != 7 || !strings.Contains(r.Failure, "account.state is normal, want frozen") {
		t.Errorf("ledger-clock.toml: %s after %d steps: %s\n%s", r.Status, r.Steps, r.Failure, tl.String())
	}
	for _, want := range []string{"ledger's clock now", "offset 24h0m0s", "ok      ledger account S1", "ledger serving again"} {
		if !strings.Contains(tl.String(), want) {
			t.Errorf("the timeline does not show %q:\n%s", want, tl.String())
		}
	}
}
