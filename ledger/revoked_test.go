package ledger_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
)

// TestRevokedDeviceJournalCollected (issue 10.3): a revoked device's
// remaining records, made before and after the revocation, are still
// accepted (signed by its enrolled key) and acknowledged, so nothing it
// recorded is stranded; nothing they carry creates money; every other
// endpoint answers revoked, which is how the device learns it.
func TestRevokedDeviceJournalCollected(t *testing.T) {
	tl, _ := start(t)
	dev := tl.Enrol(t, "pos-1", protocol.DevicePOS)
	tm := newTerminal(t, "pos-1", "student")
	tm.buy(1000, false) // 1, 2
	if _, e := upload(t, tl, dev, tm.batch(1, 1, 2)); e != nil {
		t.Fatal(e)
	}
	tm.buy(500, false) // 3, 4: made before the revocation, not yet uploaded
	tm.gate(1)         // 5
	if err := tl.Revoke("pos-1"); err != nil {
		t.Fatal(err)
	}
	// Made after: a reversal of the sale of intent 3, exact in every field.
	tm.clock.Advance(time.Hour)                                                                                                                                                // the terminal's clock past the ledger's revocation
	if _, err := tm.store.Append(protocol.Record{Kind: protocol.KindPurchaseReversed, IntentID: 3, CardNo: tm.pub.CardNumber(), Amount: 500, Reason: "cashier"}); err != nil { // 6
		t.Fatal(err)
	}
	ack, e := upload(t, tl, dev, tm.batch(2, 3, 6))
	if e != nil || ack.AckedThrough != 6 {
		t.Fatalf("revoked device's batch 3..6: %+v %v, want it acknowledged", ack, e)
	}
	h6 := tm.entries(6, 6)[0].Hash
	if !bytes.Equal(ack.Head, h6[:]) {
		t.Errorf("ack head %x, want the hash of record 6", ack.Head)
	}
	for seq := uint64(3); seq <= 6; seq++ {
		raw, err := tl.Record("pos-1", seq)
		if err != nil || !bytes.Equal(raw, tm.entries(seq, seq)[0].Raw) {
			t.Errorf("record %d not held: %v", seq, err)
		}
	}
	// The same batch again: the same ack (exactly once holds for it too).
	if again, e := upload(t, tl, dev, tm.batch(2, 3, 6)); e != nil || again.AckedThrough != 6 || again.ServerTime != ack.ServerTime {
		t.Errorf("duplicate: %+v %v", again, e)
	}
	if loads, err := tl.PendingLoads(tm.pub.CardNumber()); err != nil || len(loads) != 0 {
		t.Errorf("a revoked device's reversal became a load: %+v %v", loads, err)
	}
	d := device(t, tl, "pos-1")
	if d.Stats.CollectedAfterRevoke != 4 || d.Stats.MadeAfterRevoke != 1 || d.Stats.Records != 6 || d.HighWater != 6 {
		t.Errorf("stats %+v: want records 3..6 collected after the revocation, 6 made after it", d.Stats)
	}
	if d.Stats.ReversalsRefused != 1 || d.Stats.ReversalsRefusedAmount != 500 || d.Stats.ReversalCount != 0 {
		t.Errorf("reversal stats %+v", d.Stats)
	}
	alerts, err := tl.Alerts()
	if err != nil || len(alerts) != 1 || alerts[0].Kind != ledger.AlertReversal || alerts[0].Seq != 6 || alerts[0].IntentID != 3 ||
		!strings.Contains(alerts[0].Reason, "revoked") {
		t.Errorf("alerts %+v %v, want one reversal alert for record 6", alerts, err)
	}
	// Not a valid key: still refused.
	thief := ledgertest.NewDevice(t, "pos-1")
	tm.gate(1) // 7
	if _, e := upload(t, tl, thief, tm.batch(3, 7, 7)); e == nil || e.Code != protocol.CodeBadSignature {
		t.Errorf("batch of a revoked device under another key: %v, want bad-signature", e)
	}
	for _, c := range []struct {
		path string
		m    protocol.Message
	}{
		{"/v1/status", &protocol.StatusRequest{DeviceID: "pos-1"}},
		{"/v1/rules", &protocol.RulesRequest{DeviceID: "pos-1"}},
		{"/v1/pending", &protocol.PendingRequest{DeviceID: "pos-1", CardNo: tm.pub.CardNumber()}},
		{"/v1/loads/confirm", &protocol.LoadConfirm{DeviceID: "pos-1", LoadID: "1", CardNo: tm.pub.CardNumber(), TAC: make([]byte, 4)}},
	} {
		status, body := tl.Post(t, c.path, dev.Seal(t, c.m))
		if status != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want 403", c.path, status)
		}
		wantCode(t, ledgertest.ErrorOf(body), protocol.CodeRevoked)
	}
}
