package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/protocol"
)

func TestDemoSellsRefusesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--dir", dir, "--price", "1250"}, &out, &errb); code != 0 {
		t.Fatalf("demo exit %d: %s\n%s", code, errb.String(), out.String())
	}
	got := out.String()
	for _, want := range []string{
		"余额 87.50元",                // student paid once
		"挂失卡 | Card reported lost", // lost card refused by the status list
		"余额不足",                     // 5.00 yuan card refused
		"卡已过期",                     // expired card refused by policy
		"卡片移开过早 请重新刷卡",             // torn sale left uncertain
		"recovered from the card",  // and resolved when the card came back
		"余额 75.00元",                // exactly one more debit, not two
		"open or uncertain intents: 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}

	s, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Verify(); err != nil {
		t.Fatalf("journal does not verify: %v", err)
	}
	es, err := s.Records(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[protocol.Kind]int{}
	var paid int64
	for _, e := range es {
		kinds[e.Record.Kind]++
		if e.Record.Kind == protocol.KindPurchaseCompleted {
			paid += e.Record.Amount
		}
	}
	// Three sales completed (student twice, staff once), one uncertain mark
	// for the tear, nothing voided.
	if kinds[protocol.KindPurchaseIntent] != 3 || kinds[protocol.KindPurchaseCompleted] != 3 ||
		kinds[protocol.KindPurchaseUncertain] != 1 || kinds[protocol.KindPurchaseVoided] != 0 {
		t.Errorf("journal kinds = %v", kinds)
	}
	if paid != 3*1250 {
		t.Errorf("completed amounts = %d fen, want %d", paid, 3*1250)
	}
}

func TestDemoUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--price", "0"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for price 0, want 2", code)
	}
	if code := run([]string{"demo", "extra"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for an extra argument, want 2", code)
	}
}

// TestDemoMakesItsDirectory: --dir names a folder that need not exist yet.
func TestDemoMakesItsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "demo")
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("demo --dir NEW: exit %d: %s", code, errb.String())
	}
	st, err := os.Stat(filepath.Join(dir, "yktd.db"))
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("no store in the new folder: %v", err)
	}
	if !strings.Contains(out.String(), filepath.Join(dir, "yktd.db")) {
		t.Errorf("the output does not name the store:\n%s", out.String())
	}
}
