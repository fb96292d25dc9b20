package policy

import (
	"fmt"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want Date
		ok   bool
	}{
		{"2026-10-01", 20261001, true},
		{"0001-01-31", 10131, true},
		{"2026-12-31", 20261231, true},
		{"2026-13-01", 0, false},
		{"2026-00-10", 0, false},
		{"2026-01-00", 0, false},
		{"2026-01-32", 0, false},
		{"2026/01/01", 0, false},
		{"2026-1-01", 0, false},
		{"20261001", 0, false},
		{"2026-0a-01", 0, false},
		{"", 0, false},
		{"2026-10-011", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseDate(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseDate(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseDate checks the holiday date parser of signed rules against
// time.Parse: every date time.Parse accepts parses to the same day, and
// whatever parseDate accepts is canonical YYYY-MM-DD.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-10-01", "2026-02-29", "2026-02-31", "0000-01-01", "9999-12-31", "2026-1-1", "-026-10-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseDate(s)
		if tm, err := time.Parse(time.DateOnly, s); err == nil {
			if !ok || d != DateOf(tm) {
				t.Fatalf("parseDate(%q) = %d, %v; time.Parse says %s", s, d, ok, tm.Format(time.DateOnly))
			}
		}
		if ok {
			if got := fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100); got != s {
				t.Fatalf("parseDate(%q) = %d, which prints as %s", s, d, got)
			}
		}
	})
}
