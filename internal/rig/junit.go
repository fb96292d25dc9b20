package rig

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

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
