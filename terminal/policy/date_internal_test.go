package policy

import "testing"

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
