package perf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one figure of the table.
type Row struct {
	// Key names the figure across runs (dist/perf.json), e.g. "rss_1m".
	Key  string `json:"key"`
	Name string `json:"name"`
	Unit string `json:"unit"` // "ms", "MB" (10^6 bytes), "s", "entries"
	// Value is the figure.
	Value float64 `json:"value"`
	// Budget, when the issue or DESIGN §7 names one, is the bound the
	// value must stay below.
	Budget *float64 `json:"budget,omitempty"`
	// Baseline is the same quantity measured in the same run without what
	// the row measures (an empty store, no yktd), named by BaselineName.
	Baseline     *float64 `json:"baseline,omitempty"`
	BaselineName string   `json:"baseline_name,omitempty"`
}

// Over reports whether the row has a budget and its value is not below it.
func (r Row) Over() bool { return r.Budget != nil && r.Value >= *r.Budget }

// Ratio is Value / Baseline, or 0 without a (non-zero) baseline.
func (r Row) Ratio() float64 {
	if r.Baseline == nil || *r.Baseline == 0 {
		return 0
	}
	return r.Value / *r.Baseline
}

// Report is one run of make perf.
type Report struct {
	Version  int       `json:"version"` // of this format: 1
	Time     time.Time `json:"time"`
	Host     Host      `json:"host"`
	Rows     []Row     `json:"rows"`
	Notes    []string  `json:"notes,omitempty"`
	Duration float64   `json:"duration_s"` // the whole run, seconds
}

// Host is where the run ran.
type Host struct {
	CPUs      int    `json:"cpus"`
	Go        string `json:"go"`
	Kernel    string `json:"kernel,omitempty"`
	YktdSHA   string `json:"yktd_commit,omitempty"`
	StatusMax int    `json:"protocol_max_status_entries"`
}

// ReportVersion is Report.Version of this program.
const ReportVersion = 1

// F returns a pointer to v, for Row's optional fields.
func F(v float64) *float64 { return &v }

// Row returns the row with key, if any.
func (r *Report) Row(key string) (Row, bool) {
	for _, x := range r.Rows {
		if x.Key == key {
			return x, true
		}
	}
	return Row{}, false
}

// FormatValue formats v in unit for the table.
func FormatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		switch {
		case v >= 100:
			return fmt.Sprintf("%.0f ms", v)
		case v >= 10:
			return fmt.Sprintf("%.1f ms", v)
		}
		return fmt.Sprintf("%.2f ms", v)
	case "MB", "s":
		return fmt.Sprintf("%.1f %s", v, unit)
	case "entries":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

// WriteTable prints the report as one table: each figure, its budget,
// the baseline of the same run and the ratio to it, and, when last is
// not nil, the same figure of the last run.
func (r *Report) WriteTable(w io.Writer, last *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "figure\tvalue\tbudget\tbaseline (same run)\tratio"
	if last != nil {
		head += "\tlast run"
	}
	fmt.Fprintln(tw, head)
	for _, x := range r.Rows {
		budget, base, ratio := "", "", ""
		if x.Budget != nil {
			verdict := "ok"
			if x.Over() {
				verdict = "OVER"
			}
			budget = "< " + FormatValue(*x.Budget, x.Unit) + " " + verdict
		}
		if x.Baseline != nil {
			base = FormatValue(*x.Baseline, x.Unit) + " " + x.BaselineName
			switch q := x.Ratio(); {
			case q >= 10:
				ratio = fmt.Sprintf("x%.0f", q)
			case q != 0:
				ratio = fmt.Sprintf("x%.2f", q)
			}
		}
		line := strings.Join([]string{x.Name, FormatValue(x.Value, x.Unit), budget, base, ratio}, "\t")
		if last != nil {
			prev := "-"
			if p, ok := last.Row(x.Key); ok && p.Unit == x.Unit {
				prev = FormatValue(p.Value, p.Unit)
			}
			line += "\t" + prev
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintln(w, "  * "+n); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the report to path (indented JSON, replaced whole).
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("perf: report: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("perf: report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("perf: report: %w", err)
	}
	return nil
}

// ReadReport reads a report an earlier run wrote. A missing file is
// (nil, nil): there was no earlier run. A file of another format version
// is refused.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("perf: last report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("perf: last report %s: %w", path, err)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("perf: last report %s: format version %d, this program writes %d", path, r.Version, ReportVersion)
	}
	return &r, nil
}
