package rig

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Status is how a scenario ended.
type Status string

// Statuses of a Result.
const (
	StatusPassed  Status = "passed"  // every step that ran passed
	StatusFailed  Status = "failed"  // an expectation failed, a step could not run, or the file is bad
	StatusPending Status = "pending" // the whole scenario waits for an issue
)

// Event is one line of a scenario's timeline.
type Event struct {
	At   time.Duration // since the scenario started
	Kind string        // "step", "ok", "FAIL", "info", "pending"
	Text string
}

// PendingPart is what of a scenario waits for an issue.
type PendingPart struct {
	Issue int
	Why   string
	Steps []string // the steps (or "the whole scenario")
}

// LogTail is the end of one process's output, for a failure's report.
type LogTail struct {
	Name string // "pos stderr", "ledger (run 2) stdout"
	Text string
}

// Result is one scenario's outcome.
type Result struct {
	File     string
	Name     string
	Rule     string
	Status   Status
	Failure  string // why it failed
	Pending  []PendingPart
	Events   []Event
	Logs     []LogTail
	Dir      string // its directory (kept with Options.Keep)
	Duration time.Duration
	Steps    int // steps run
}

// timeline collects a scenario's events.
type timeline struct {
	mu    sync.Mutex
	start time.Time
	ev    []Event
}

func (t *timeline) add(kind, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ev = append(t.ev, Event{At: time.Since(t.start), Kind: kind, Text: fmt.Sprintf(format, args...)})
}

func (t *timeline) events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Event(nil), t.ev...)
}

// WriteTimeline prints a result's timeline and the tails of its
// processes' logs, as a person reads them.
func (r *Result) WriteTimeline(w io.Writer) {
	fmt.Fprintf(w, "--- timeline of %s (%s)\n", r.Name, r.File)
	for _, e := range r.Events {
		fmt.Fprintf(w, "  %8.3fs %-7s %s\n", e.At.Seconds(), e.Kind, indent(e.Text, "                    "))
	}
	for _, l := range r.Logs {
		if strings.TrimSpace(l.Text) == "" {
			continue
		}
		fmt.Fprintf(w, "--- %s (end)\n%s\n", l.Name, indent("    "+l.Text, "    "))
	}
	if r.Dir != "" {
		fmt.Fprintf(w, "--- files: %s\n", r.Dir)
	}
}

func indent(s, pre string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pre)
}

// Summary is the outcome of a run of several scenarios.
type Summary struct {
	Results  []*Result
	Passed   int
	Failed   int
	Pending  int // whole scenarios pending
	Partial  int // passed scenarios with pending steps
	Duration time.Duration
}

// OK reports whether nothing failed.
func (s *Summary) OK() bool { return s.Failed == 0 }

// WriteReport prints one line per scenario, the timeline of each failed
// one (of all with verbose), and the totals.
func (s *Summary) WriteReport(w io.Writer, verbose bool) {
	for _, r := range s.Results {
		line := fmt.Sprintf("%-7s %s (%s, %.1fs)", strings.ToUpper(string(r.Status)), r.Name, r.File, r.Duration.Seconds())
		switch {
		case r.Status == StatusPending:
			line = fmt.Sprintf("PENDING %s (%s): issue %d: %s", r.Name, r.File, r.Pending[0].Issue, r.Pending[0].Why)
		case r.Status == StatusFailed:
			line += ": " + r.Failure
		case len(r.Pending) > 0:
			var parts []string
			for _, p := range r.Pending {
				parts = append(parts, fmt.Sprintf("issue %d (%d steps)", p.Issue, len(p.Steps)))
			}
			line += "; part pending on " + strings.Join(parts, ", ")
		}
		fmt.Fprintln(w, line)
		if r.Status == StatusFailed || verbose && r.Status != StatusPending {
			r.WriteTimeline(w)
		}
	}
	fmt.Fprintf(w, "%d scenarios: %d passed (%d with pending parts), %d failed, %d pending, in %.1fs\n",
		len(s.Results), s.Passed, s.Partial, s.Failed, s.Pending, s.Duration.Seconds())
}

// JUnit XML, as CI systems read it: one testsuite, a testcase per
// scenario (failed: <failure> with the timeline; pending: <skipped> with
// its issue) and one skipped testcase per issue a passed scenario has
// pending steps for — never counted as passed.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the summary as JUnit XML.
func (s *Summary) WriteJUnit(w io.Writer) error {
	suite := junitSuite{Name: "yktd rig scenarios", Time: fmt.Sprintf("%.3f", s.Duration.Seconds())}
	for _, r := range s.Results {
		class := "scenarios." + strings.TrimSuffix(filepath.Base(r.File), ".toml")
		c := junitCase{Name: r.Name, ClassName: class, Time: fmt.Sprintf("%.3f", r.Duration.Seconds())}
		var tl bytes.Buffer
		r.WriteTimeline(&tl)
		switch r.Status {
		case StatusFailed:
			c.Failure = &junitMessage{Message: r.Failure, Text: tl.String()}
			suite.Failures++
		case StatusPending:
			p := r.Pending[0]
			c.Skipped = &junitMessage{Message: fmt.Sprintf("pending on issue %d: %s", p.Issue, p.Why)}
			suite.Skipped++
		default:
			c.SystemOut = tl.String()
		}
		suite.Cases = append(suite.Cases, c)
		if r.Status == StatusPending {
			continue
		}
		for _, p := range r.Pending {
			if len(p.Steps) == 1 && p.Steps[0] == "the whole scenario" {
				continue
			}
			suite.Cases = append(suite.Cases, junitCase{Name: fmt.Sprintf("%s [pending on issue %d]", r.Name, p.Issue), ClassName: class,
				Time: "0", Skipped: &junitMessage{Message: fmt.Sprintf("pending on issue %d: %s", p.Issue, p.Why), Text: strings.Join(p.Steps, "\n")}})
			suite.Skipped++
		}
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return fmt.Errorf("rig: junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
