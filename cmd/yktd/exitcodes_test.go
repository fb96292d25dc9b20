package main

import (
	"bytes"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// usageMistakes lists, for every subcommand and sub-subcommand of yktd,
// command lines that lack an argument it needs (or carry one it refuses):
// each must exit 2 with the usage explained, before anything runs.
// TestExitCodes fails for a command missing here, so a new subcommand
// cannot escape the table.
var usageMistakes = map[string][][]string{
	"demo":            {{"--dir"}, {"--price"}},
	"run":             {{}, {"--config"}, {"--sim", "--kind"}, {"--new-store"}},
	"version":         {{"extra"}},
	"update keygen":   {{}, {"--out"}},
	"update release":  {{}, {"--key", "k"}},
	"update announce": {{}, {"--key", "k"}},
	"update pin":      {{}, {"--pub"}},
	"update trust":    {{}, {"a", "b"}},
	"update init":     {{"extra"}},
	"update apply":    {{}, {"a", "b"}},
	"update status":   {{"extra"}},
	"update boot":     {{"extra"}},
	"cashier-pin":     {{"extra"}},
	"journal verify":  {{}, {"--db"}},
	"journal tail":    {{}, {"--db"}},
	"journal intents": {{}, {"--db"}},
	"journal export":  {{}, {"--db"}},
	"journal demo":    {{}, {"--db"}},
	"status lookup":   {{}, {"--db", "x.db"}, {"--db", "x.db", "abc"}, {"abc", "--db", "x.db"}, {"--db", "x.db", "1", "2"}},
	"status stats":    {{}, {"--db"}},
	"reader list":     {{"--config"}, {"--backend"}},
	"reader watch":    {{"--config"}, {"--reader"}},
	"relay pulse":     {{}, {"--config", "x.toml"}, {"arm_in"}},
	"board inputs":    {{}, {"--config"}},
	"board pins":      {{"extra"}},
	"rig vcard":       {{}, {"--state"}},
	"rig run":         {{}, {"--junit"}, {"--parallel", "x", "a.toml"}},
	"selftest":        {{"--config"}, {"extra"}, {"--timeout", "0s"}, {"--timeout", "x"}},
	"provision":       {{}, {"--ledger"}, {"extra"}, {"--ledger", "http://127.0.0.1:1/", "--ledger-key", "sha256:x", "--token", "t", "--site", "S", "--kind", "pos", "--device", "D"}},
}

// subcommandsIn finds the subcommands a command's help names:
// "usage: yktd NAME <a|b|c>" or one "yktd NAME sub ..." line per
// subcommand.
func subcommandsIn(name, help string) []string {
	var subs []string
	alt := regexp.MustCompile(`yktd ` + regexp.QuoteMeta(name) + ` <([a-z|]+)>`)
	if m := alt.FindStringSubmatch(help); m != nil {
		subs = strings.Split(m[1], "|")
	}
	line := regexp.MustCompile(`(?m)^\s*(?:usage: )?yktd ` + regexp.QuoteMeta(name) + ` ([a-z][a-z-]*)\b`)
	for _, m := range line.FindAllStringSubmatch(help, -1) {
		subs = append(subs, m[1])
	}
	sort.Strings(subs)
	return slices.Compact(subs)
}

// yktdLeaves returns every registered command that takes no subcommand and
// every subcommand of those that do ("journal verify"), and the commands
// that take one ("journal").
func yktdLeaves(t *testing.T) (leaves, groups []string) {
	t.Helper()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var out, errb bytes.Buffer
		if code := run([]string{n, "-h"}, &out, &errb); code != 0 {
			t.Errorf("yktd %s -h: exit %d, want 0 (stderr %q)", n, code, errb.String())
		}
		subs := subcommandsIn(n, errb.String()+out.String())
		if len(subs) == 0 {
			leaves = append(leaves, n)
			continue
		}
		groups = append(groups, n)
		for _, s := range subs {
			leaves = append(leaves, n+" "+s)
		}
	}
	return leaves, groups
}

// TestExitCodes: every subcommand answers -h and --help with exit 0, and an
// unknown flag, a missing argument or an unknown subcommand with exit 2.
func TestExitCodes(t *testing.T) {
	leaves, groups := yktdLeaves(t)
	for _, want := range []string{"run", "version", "demo", "journal verify", "status lookup", "board pins", "rig vcard"} {
		if !slices.Contains(leaves, want) {
			t.Fatalf("subcommands found from the registered commands: %q; %q is missing (is its usage text still parseable?)", leaves, want)
		}
	}
	for _, leaf := range leaves {
		if _, ok := usageMistakes[leaf]; !ok {
			t.Errorf("yktd %s: not in usageMistakes: add the command lines that lack its arguments", leaf)
		}
	}
	for name := range usageMistakes {
		if !slices.Contains(leaves, name) {
			t.Errorf("usageMistakes names %q, which is not a yktd subcommand (subcommands: %q)", name, leaves)
		}
	}
	type tc struct {
		args []string
		want int
	}
	var cases []tc
	for _, leaf := range leaves {
		p := strings.Fields(leaf)
		cases = append(cases,
			tc{append(slices.Clip(p), "-h"), 0},
			tc{append(slices.Clip(p), "--help"), 0},
			tc{append(slices.Clip(p), "--no-such-flag"), 2},
		)
		for _, m := range usageMistakes[leaf] {
			cases = append(cases, tc{append(slices.Clip(p), m...), 2})
		}
	}
	for _, g := range groups {
		cases = append(cases,
			tc{[]string{g}, 2},
			tc{[]string{g, "--help"}, 0},
			tc{[]string{g, "no-such-subcommand"}, 2},
			tc{[]string{g, "--no-such-flag"}, 2},
		)
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != c.want {
				t.Fatalf("exit %d, want %d\nstderr:\n%.800s", code, c.want, errb.String())
			}
			msg := errb.String()
			if c.want == 0 && !strings.Contains(strings.ToLower(msg), "usage") {
				t.Errorf("help does not show the usage:\n%s", msg)
			}
			if c.want == 2 {
				prefix := "yktd " + c.args[0] + ":"
				if !strings.Contains(msg, prefix) && !strings.Contains(strings.ToLower(msg), "usage") {
					t.Errorf("stderr neither names %q nor shows the usage:\n%s", prefix, msg)
				}
				if strings.Contains(msg, prefix+" "+c.args[0]+":") {
					t.Errorf("stderr repeats its prefix:\n%s", msg)
				}
			}
		})
	}
}
