package rig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRigDocsKeys: every key a scenario may hold is in docs/rig.md, the
// test engineer's manual: the top level's, a device's, a card's, a
// step's and each expectation's in backticks, and the keys of the inline
// tables (kiosk, expect.kiosk, expect.tap, ...) on the line that shows
// that table.
func TestRigDocsKeys(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "rig.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	tags := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if tag := strings.Split(rt.Field(i).Tag.Get("toml"), ",")[0]; tag != "" && tag != "-" {
				out = append(out, tag)
			}
		}
		return out
	}
	for _, tc := range []struct {
		prefix string
		v      any
	}{{"", Scenario{}}, {"", DeviceSpec{}}, {"", CardSpec{}}, {"", Step{}}, {"expect.", Expect{}}} {
		for _, tag := range tags(tc.v) {
			if !strings.Contains(doc, "`"+tc.prefix+tag) && !strings.Contains(doc, "`[["+tag+"]]`") {
				t.Errorf("docs/rig.md does not document %s%s (%T)", tc.prefix, tag, tc.v)
			}
		}
	}
	for _, tc := range []struct {
		row string
		v   any
	}{{"`kiosk = {", KioskSpec{}}, {"`expect.kiosk = {", KioskExpect{}}, {"`expect.tap = {", TapExpect{}},
		{"`expect.cards.NAME = {", CardExpect{}}, {"`expect.journal = [{", JournalExpect{}}, {"`fault = {", FaultSpec{}}} {
		i := strings.Index(doc, tc.row)
		if i < 0 {
			t.Errorf("docs/rig.md has no row %s", tc.row)
			continue
		}
		line := doc[i:]
		line = line[:strings.IndexByte(line+"\n", '\n')]
		for _, tag := range tags(tc.v) {
			if !strings.Contains(line, tag) {
				t.Errorf("docs/rig.md's row %s does not name %s", tc.row, tag)
			}
		}
	}
}
