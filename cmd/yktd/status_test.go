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
		{"flags after the card", []string{"status", "lookup", "2023009999", "--db", path}, 0, []string{"2023009999: lost since"}, ""},
		{"zone after the card", []string{"status", "lookup", "--db", path, "2023009999", "--zone", "UTC"}, 0,
			[]string{"lost since 2024-09-01T00:00:00.000Z"}, ""},
		{"a UID in hex", []string{"status", "lookup", "--db", path, "04a1b2c3d4e5f6"}, 0, []string{"04a1b2c3d4e5f6: not listed"}, ""},
		{"two cards", []string{"status", "lookup", "--db", path, "2023009999", "2022000555"}, 2, nil, "want --db FILE CARDNO"},
		{"malformed: letters", []string{"status", "lookup", "--db", path, "abc"}, 2, nil, `card number "abc" is malformed`},
		{"malformed: odd hex", []string{"status", "lookup", "--db", path, "04a1b"}, 2, nil, "malformed"},
		{"malformed: upper-case hex", []string{"status", "lookup", "--db", path, "04A1B2C3"}, 2, nil, "malformed"},
		{"malformed: space", []string{"status", "lookup", "--db", path, "2023 009999"}, 2, nil, "malformed"},
		{"malformed: too long", []string{"status", "lookup", "--db", path, strings.Repeat("1", 33)}, 2, nil, "malformed"},
		{"malformed before the store is opened", []string{"status", "lookup", "--db", path + ".nope", "abc"}, 2, nil, "malformed"},
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
