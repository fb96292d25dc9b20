package terminal_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/openykt/yktd/reader/sim"
	"github.com/openykt/yktd/terminal"
)

// TestControlJournal: GET /v1/journal lets the credential's holder read a
// running daemon's journal (the store is the daemon's, so no tool can open
// it meanwhile): the records above ?after, at most ?limit, each with its
// kind's name and the record itself. Without the credential it answers
// nothing, and a malformed query is a 400.
func TestControlJournal(t *testing.T) {
	r := startCtlRig(t, "127.0.0.1:0", nil)
	sale := r.sell()
	auth := map[string]string{"Authorization": "Bearer " + r.token()}

	for hdr, want := range map[string]string{"": "credential_required", "Bearer " + r.token() + "0": "credential_wrong"} {
		h := map[string]string{}
		if hdr != "" {
			h["Authorization"] = hdr
		}
		st, body := r.call("GET", "/v1/journal", h, "")
		if st != http.StatusUnauthorized || code(t, body) != want {
			t.Errorf("GET /v1/journal with Authorization %q: %d %s, want 401 %s", hdr, st, body, want)
		}
	}

	st, body := r.call("GET", "/v1/journal", auth, "")
	if st != http.StatusOK {
		t.Fatalf("GET /v1/journal: %d %s", st, body)
	}
	var all []terminal.JournalEntry
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		t.Fatalf("GET /v1/journal: %s: %v", body, err)
	}
	var intent, completed *terminal.JournalEntry
	for i, e := range all {
		if e.Seq != uint64(i+1) || e.Record.Seq != e.Seq || len(e.Hash) != 64 {
			t.Errorf("entry %d: seq %d, record seq %d, hash %q", i, e.Seq, e.Record.Seq, e.Hash)
		}
		switch e.Kind {
		case "purchase-intent":
			intent = &all[i]
		case "purchase-completed":
			completed = &all[i]
		}
	}
	if intent == nil || completed == nil {
		t.Fatalf("journal of a sale without its intent and completion: %s", body)
	}
	if intent.Seq != sale.Intent || completed.Record.IntentID != sale.Intent ||
		completed.Record.CardNo != sim.DemoStudentNo || completed.Record.Amount != sale.Amount || completed.Record.BalanceAfter != sale.Balance {
		t.Errorf("sale %+v journaled as intent %+v, completion %+v", sale, intent, completed.Record)
	}

	// after and limit page through it.
	var page []terminal.JournalEntry
	st, body = r.call("GET", "/v1/journal?after=1&limit=1", auth, "")
	if err := json.Unmarshal([]byte(body), &page); st != http.StatusOK || err != nil || len(page) != 1 || page[0].Seq != 2 {
		t.Errorf("GET /v1/journal?after=1&limit=1: %d %s (%v)", st, body, err)
	}
	st, body = r.call("GET", "/v1/journal?after=1000", auth, "")
	if st != http.StatusOK || body != "[]\n" {
		t.Errorf("GET /v1/journal?after=1000: %d %q, want 200 []", st, body)
	}
	for _, q := range []string{"after=x", "limit=-1", "limit=0", "limit=1001", "after=1&after=2"} {
		if st, body := r.call("GET", "/v1/journal?"+q, auth, ""); st != http.StatusBadRequest || code(t, body) != "bad_request" {
			t.Errorf("GET /v1/journal?%s: %d %s, want 400 bad_request", q, st, body)
		}
	}
}
