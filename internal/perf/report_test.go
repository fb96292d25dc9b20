package perf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	return &Report{Version: ReportVersion, Time: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), Rows: []Row{
		{Key: "rss_1m", Name: "resident memory", Unit: "MB", Value: 30, Budget: F(40), Baseline: F(20), BaselineName: "empty store"},
		{Key: "ready_1m", Name: "start to ready", Unit: "ms", Value: 250, Budget: F(200)},
		{Key: "arm_size", Name: "linux/arm binary", Unit: "MB", Value: 12.34},
		{Key: "overhead", Name: "overhead from the tap", Unit: "ms", Value: 398, Baseline: F(1.37), BaselineName: "card time"},
	}}
}

func TestRowBudgetAndRatio(t *testing.T) {
	r := sampleReport()
	if r.Rows[0].Over() || !r.Rows[1].Over() || r.Rows[2].Over() {
		t.Fatalf("Over: %v %v %v", r.Rows[0].Over(), r.Rows[1].Over(), r.Rows[2].Over())
	}
	if q := r.Rows[0].Ratio(); q != 1.5 {
		t.Fatalf("ratio %v, want 1.5", q)
	}
	if q := r.Rows[1].Ratio(); q != 0 {
		t.Fatalf("ratio without baseline %v", q)
	}
	if q := (Row{Value: 3, Baseline: F(0)}).Ratio(); q != 0 {
		t.Fatalf("ratio to a zero baseline %v", q)
	}
	// At the budget is over it: the budget is "below".
	if !(Row{Value: 40, Budget: F(40)}).Over() {
		t.Fatal("a value equal to its budget is not over it")
	}
}

func TestWriteTable(t *testing.T) {
	r := sampleReport()
	r.Notes = []string{"a note"}
	last := &Report{Version: ReportVersion, Rows: []Row{{Key: "rss_1m", Unit: "MB", Value: 28}}}
	var b bytes.Buffer
	if err := r.WriteTable(&b, last); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"figure", "budget", "baseline (same run)", "ratio", "last run"},
		{"resident memory", "30.0 MB", "< 40.0 MB ok", "20.0 MB empty store", "x1.50", "28.0 MB"},
		{"start to ready", "250 ms", "< 200 ms OVER", "-"},
		{"linux/arm binary", "12.3 MB"},
		{"overhead from the tap", "398 ms", "1.37 ms card time", "x291"},
		{"* a note"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
	// The columns line up: every row's value starts where the header's does.
	col := strings.Index(lines[0], "value")
	for _, l := range lines[1:5] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("value column not at %d in %q", col, l)
		}
	}
	b.Reset()
	if err := r.WriteTable(&b, nil); err != nil || strings.Contains(b.String(), "last run") {
		t.Fatalf("without a last run: %v\n%s", err, b.String())
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perf.json")
	if r, err := ReadReport(path); r != nil || err != nil {
		t.Fatalf("no file: %v, %v", r, err)
	}
	r := sampleReport()
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	row, ok := got.Row("rss_1m")
	if !ok || row.Value != 30 || *row.Budget != 40 || *row.Baseline != 20 || row.BaselineName != "empty store" {
		t.Fatalf("round trip: %+v", row)
	}
	if _, ok := got.Row("arm_size"); !ok || got.Rows[2].Budget != nil {
		t.Fatalf("optional fields: %+v", got.Rows[2])
	}
	for name, text := range map[string]string{"garbage": "{nope", "other version": `{"version": 9}`} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadReport(path); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{{0.5, "ms", "0.50 ms"}, {12.25, "ms", "12.2 ms"}, {487.4, "ms", "487 ms"}, {3.26, "s", "3.3 s"}, {500000, "entries", "500000"}} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %s) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestListName(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M-entry list", 500_000: "500k-entry list", 40_000: "40k-entry list", 1234: "1234-entry list"} {
		if got := listName(n); got != want {
			t.Errorf("listName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDebitPrefix(t *testing.T) {
	if got := debitPrefix([]byte{0xCA, 0xA4, 0x50, 0x54, 0x5C}); string(got) != "\xCA\xA4\x50\x54" {
		t.Errorf("debitPrefix = % X", got)
	}
	if got := debitPrefix([]byte{0xCA, 0xA4}); string(got) != "\xCA\xA4" {
		t.Errorf("without DEBIT = % X", got)
	}
}
