package main

import (
	"bytes"
	"strings"
	"testing"
)

// Usage mistakes of reader and rig exit with 2 without touching pcscd or
// vpcd (the pcscd-backed behaviour is tested in reader/pcsc).
func TestReaderAndRigUsage(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"reader"}, 2, "missing subcommand"},
		{[]string{"reader", "frob"}, 2, "unknown subcommand"},
		{[]string{"reader", "list", "--backend", "nope"}, 2, "unknown backend"},
		{[]string{"reader", "list", "extra"}, 2, "unexpected arguments"},
		{[]string{"reader", "watch", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"reader", "list", "-h"}, 0, "usage: yktd reader list"},
		{[]string{"rig"}, 2, "missing subcommand"},
		{[]string{"rig", "vcard"}, 2, "give --state FILE"},
		{[]string{"rig", "vcard", "--psam", "--demo", "student"}, 2, "--psam excludes"},
		{[]string{"rig", "vcard", "--demo", "nosuchcard"}, 2, "nosuchcard"},
		{[]string{"rig", "vcard", "--psam", "--port", "70000"}, 2, "out of range"},
		{[]string{"rig", "help"}, 0, "demo cards:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q, want %q", errb.String(), tt.wantErr)
			}
		})
	}
}
