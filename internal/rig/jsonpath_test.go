package rig

import (
	"strings"
	"testing"
)

// TestRigJSONPath: paths into the ledger's report and device list select
// what they say, and the wanted values compare as documented.
func TestRigJSONPath(t *testing.T) {
	report := `{"devices": [
	  {"id": "RIG-POS", "stats": {"debit_count": 2, "debits": 2500}, "revoked": "2026-12-07T00:00:00Z", "uncertain_intents": [4, 9]},
	  {"id": "RIG.GATE", "stats": {"debit_count": 0}, "kind": "gate", "flag": true}
	], "status_version": 3, "fork_alerts": null}`
	doc, err := decodeJSON([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		want  any
		match bool
	}{
		{"status_version", int64(3), true},
		{"status_version", int64(4), false},
		{"status_version", float64(3), true},
		{"status_version", "3", true},
		{"status_version", ">= 3", true},
		{"status_version", "> 3", false},
		{"status_version", "<4", true},
		{"status_version", "<= 2", false},
		{"status_version", "!= 2", true},
		{"devices[id=RIG-POS].stats.debits", int64(2500), true},
		{"devices[id=RIG-POS].stats.debit_count", int64(1), false},
		{"devices[id=RIG.GATE].kind", "gate", true},
		{"devices[id=RIG.GATE].flag", true, true},
		{"devices[id=RIG.GATE].flag", false, false},
		{"devices[1].id", "RIG.GATE", true},
		{"devices[id=RIG-POS].uncertain_intents[1]", int64(9), true},
		{"devices[id=RIG-POS].revoked", "present", true},
		{"devices[id=RIG.GATE].revoked", "absent", true},
		{"devices[id=RIG-NONE]", "absent", true},
		{"devices[id=RIG-NONE]", "present", false},
		{"devices[id=RIG-NONE].stats.debits", int64(0), false},
		{"devices[id=RIG-NONE].stats.debits", ">= 0", false},
		{"devices[5]", "absent", true},
		{"fork_alerts", "null", true},
		{"status_version.x", "absent", true},
	} {
		segs, err := parsePath(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		got, ok := lookup(doc, segs)
		if found, m := matchWant(got, ok, tc.want); m != tc.match {
			t.Errorf("%s = %s, want %v: match %v, want %v", tc.path, found, tc.want, m, tc.match)
		}
	}
	// A device list is an array at the top.
	list, _ := decodeJSON([]byte(`[{"id": "A", "kind": "pos"}]`))
	segs, _ := parsePath("[id=A].kind")
	if got, ok := lookup(list, segs); !ok || got != "pos" {
		t.Errorf("[id=A].kind = %v, %v", got, ok)
	}
	for _, bad := range []string{"", "a..b", "a[", "a]", "a[x]", "a[=1]", "a[1]b", "[-1]"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) accepted", bad)
		}
	}
	if err := checkWant([]any{1}); err == nil || !strings.Contains(err.Error(), "want a number") {
		t.Errorf("checkWant of a list: %v", err)
	}
}
