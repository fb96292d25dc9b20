// Package selftest holds the decisions of `yktd selftest` (docs/selftest.md):
// what a fact about a device (its clock, its store, its standing with the
// ledger, the age of its status list) means for the technician who reads it
// at 2 a.m. — pass, warn, fail or skip, what to do, in English and Chinese —
// and the report the command prints. It does no I/O: cmd/yktd gathers the
// facts (opens the store, the readers, the PSAM, asks the ledger) and hands
// them to the functions here, which table tests cover.
package selftest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Result is the outcome of one check.
type Result string

// Results, from good to bad; Skip is a check that did not run (not asked
// for, not applicable, or held by the running daemon).
const (
	Pass Result = "pass"
	Warn Result = "warn"
	Fail Result = "fail"
	Skip Result = "skip"
)

// Check is one line of the report.
type Check struct {
	// Name is the check's stable name ("store", "clock", "reader:NAME").
	Name   string `json:"name"`
	Result Result `json:"result"`
	// Detail says what was found, in English.
	Detail string `json:"detail"`
	// Fix says what to do (empty when there is nothing to do).
	Fix string `json:"fix,omitempty"`
	// ZH is the line in Chinese: what was found and, on warn or fail,
	// what to do.
	ZH string `json:"zh"`
}

// Mode is how the selftest ran: beside a running daemon or alone.
type Mode string

// Modes.
const (
	// Alone: no daemon held the store; the selftest opened the store,
	// the readers, the PSAM and the board itself.
	Alone Mode = "alone"
	// Daemon: a running daemon holds the store and the hardware; the
	// store's facts come from its GET /v1/health.
	Daemon Mode = "daemon"
	// Held: something holds the store but its control interface could
	// not be asked (off, or not answering).
	Held Mode = "held"
)

// Report is what `yktd selftest` prints: with --json this object, one line.
type Report struct {
	Device  string `json:"device"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
	Mode    Mode   `json:"mode"`
	// OK is true when no check failed (warnings and skips allowed).
	OK        bool    `json:"ok"`
	Checks    []Check `json:"checks"`
	ElapsedMS int64   `json:"elapsed_ms"`
}

// Add appends checks to the report.
func (r *Report) Add(cs ...Check) { r.Checks = append(r.Checks, cs...) }

// Finish sets OK from the checks and the elapsed time.
func (r *Report) Finish(elapsed time.Duration) {
	r.OK = r.Failed() == 0
	r.ElapsedMS = elapsed.Milliseconds()
	if r.Checks == nil {
		r.Checks = []Check{}
	}
}

// Failed returns the number of failed checks.
func (r *Report) Failed() int { return r.count(Fail) }

func (r *Report) count(res Result) int {
	n := 0
	for _, c := range r.Checks {
		if c.Result == res {
			n++
		}
	}
	return n
}

// Check returns the first check named name, and whether there is one.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// WriteJSON writes the report as one JSON object and a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("selftest: report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the report for a terminal: a header, one line per
// check (result, name, detail), under a warning or failure the fix and
// the Chinese line indented, and a summary.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "yktd selftest: device %s (%s), %s, yktd %s\n", orDash(r.Device), orDash(r.Kind), modeText(r.Mode), r.Version)
	width := 8
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-*s  %s\n", strings.ToUpper(string(c.Result)), width, c.Name, oneLine(c.Detail))
		if c.Result == Warn || c.Result == Fail {
			if c.Fix != "" {
				fmt.Fprintf(&b, "      %-*s  do: %s\n", width, "", oneLine(c.Fix))
			}
			if c.ZH != "" {
				fmt.Fprintf(&b, "      %-*s  中文: %s\n", width, "", oneLine(c.ZH))
			}
		}
	}
	verdict := "OK"
	if !r.OK {
		verdict = "NOT OK: fix the failed checks (FAIL) before the terminal works / 有检查未通过，请先处理 FAIL 项"
	} else if r.count(Warn) > 0 {
		verdict = "OK, with warnings to look at / 通过，但有警告需要关注"
	}
	fmt.Fprintf(&b, "result: %d pass, %d warn, %d fail, %d skip in %d ms: %s\n",
		r.count(Pass), r.count(Warn), r.count(Fail), r.count(Skip), r.ElapsedMS, verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

func modeText(m Mode) string {
	switch m {
	case Daemon:
		return "beside the running daemon"
	case Held:
		return "beside a process holding the store"
	}
	return "alone"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine folds s onto one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
