package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestStatusCommands(t *testing.T) {
	path := demoStore(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"lost card", []string{"status", "lookup", "--db", path, "2023009999"}, 0, []string{"2023009999: lost since 2024-09-01", "list version 1"}, ""},
		{"card from delta", []string{"status", "lookup", "--db", path, "2022000555"}, 0, []string{"cancelled", "list version 2"}, ""},
		{"not listed", []string{"status", "lookup", "--db", path, "2024000101"}, 0, []string{"not listed (list version 2)"}, ""},
		{"stats", []string{"status", "stats", "--db", path}, 0, []string{"version 2", "cards   5", "lost       1", "expired    1"}, ""},
		{"lookup without card", []string{"status", "lookup", "--db", path}, 2, nil, "want --db FILE CARDNO"},
		{"no subcommand", []string{"status"}, 2, nil, "missing subcommand"},
		{"unknown", []string{"status", "frob"}, 2, nil, "unknown subcommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout %q lacks %q", out.String(), w)
				}
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
		})
	}
}
