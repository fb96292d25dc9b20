package main

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

// chainBatch numbers records from 1 in a journal linked to the genesis of
// device's epoch and returns their batch.
func chainBatch(t *testing.T, device string, epoch uint64, recs ...protocol.Record) protocol.Batch {
	t.Helper()
	prev := protocol.EpochGenesis(device, epoch)
	h := prev
	at := time.Date(2026, 9, 14, 12, 0, 0, 0, time.UTC)
	raws := make([][]byte, len(recs))
	for i := range recs {
		recs[i].Seq, recs[i].Prev, recs[i].Time = uint64(i+1), h[:], at.Add(time.Duration(i)*time.Minute).UnixMilli()
		raw, err := protocol.EncodeRecord(&recs[i])
		if err != nil {
			t.Fatal(err)
		}
		raws[i], h = raw, protocol.RecordHash(raw)
	}
	b, err := protocol.NewBatch(device, uint64(len(recs)), prev, raws)
	if err != nil {
		t.Fatal(err)
	}
	b.Epoch = epoch
	return b
}

// uploadTo posts a batch signed by d to the ledgerd on addr.
func uploadTo(t *testing.T, addr string, d *ledgertest.Device, b protocol.Batch) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/batches", ledger.ContentTypeCOSE, bytes.NewReader(d.Seal(t, &b)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("batch: HTTP %d", resp.StatusCode)
	}
}

// TestReportRefusals (issue 11.5): POS refusals journaled on a device
// (purchase-refused, reason = stable code) reach a real ledgerd and its
// report shows them per device and reason, and names the lost and frozen
// cards presented, where and when; device-revoked and store-started
// records are shown too.
func TestReportRefusals(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir, "--listen", "127.0.0.1:0")
	defer stop()
	_, tok, _ := runCmd(t, "token", "new", "--data", dir, "--device", "pos-canteen-1")
	d := ledgertest.NewDevice(t, "pos-canteen-1")
	if st := enrolHTTP(t, addr, d, tok); st != http.StatusOK {
		t.Fatalf("enrol: HTTP %d", st)
	}
	const lost, frozen, poor = "10012026090100000002", "10012026090100000003", "10012026090100000004"
	refused := func(card, reason string) protocol.Record {
		return protocol.Record{Kind: protocol.KindPurchaseRefused, CardNo: card, Amount: 1200, Reason: reason, BalanceBefore: 300}
	}
	uploadTo(t, addr, d, chainBatch(t, "pos-canteen-1", 0,
		refused(lost, "lost"),         // 1, 12:00
		refused(poor, "insufficient"), // 2
		refused(lost, "lost"),         // 3, 12:02
		refused(frozen, "frozen"),     // 4
		protocol.Record{Kind: protocol.KindDeviceRevoked, Reason: "revoked"}, // 5, 12:04
	))
	code, out, errs := runCmd(t, "report", "--data", dir)
	if code != 0 {
		t.Fatalf("report: %d %s", code, errs)
	}
	for _, want := range []string{
		"refusals pos-canteen-1: frozen 1, insufficient 1, lost 2",
		"lost card " + lost + " presented at pos-canteen-1 2026-09-14T12:00:00Z (purchase-refused, record 1)",
		"lost card " + lost + " presented at pos-canteen-1 2026-09-14T12:02:00Z (purchase-refused, record 3)",
		"frozen card " + frozen + " presented at pos-canteen-1",
		"pos-canteen-1 journaled that the ledger revoked it at 2026-09-14T12:04:00Z (record 5)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "card "+poor+" presented") {
		t.Errorf("a card refused for its balance is reported as a listed card:\n%s", out)
	}
	// A store started anew: epoch 1's first record.
	uploadTo(t, addr, d, chainBatch(t, "pos-canteen-1", 1,
		protocol.Record{Kind: protocol.KindStoreStarted, Version: 1, Reason: "new-store"},
	))
	_, out, _ = runCmd(t, "report", "--data", dir)
	if !strings.Contains(out, "epochs pos-canteen-1: current 1 started 2026-09-14T12:00:00Z (store-started)") {
		t.Errorf("report does not show the new store:\n%s", out)
	}
}
