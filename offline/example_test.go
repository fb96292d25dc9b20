package offline_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

// Example appends to the journal (a gate pass and a purchase) and reads it
// back in order, then checks the hash chain.
func Example() {
	dir, err := os.MkdirTemp("", "yktd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	clk := offlinetest.NewClock(time.Date(2024, 9, 1, 12, 0, 0, 0, time.UTC))
	s, err := offline.Open(filepath.Join(dir, "yktd.db"), offline.Options{DeviceID: "pos-0042", Clock: clk})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if _, err := s.Append(protocol.Record{Kind: protocol.KindGatePass, CardNo: "2024000001", Credential: "card"}); err != nil {
		log.Fatal(err)
	}
	// Before DEBIT FOR PURCHASE: what INITIALIZE, the SAM and DEBIT's data say.
	in, err := s.OpenIntent(offline.PurchaseIntent{
		CardNo: "2024000001", Amount: 1250, BalanceBefore: 5000, CardCounter: 3,
		TerminalID: []byte{0, 0, 0x12, 0x34, 0x56, 0x78}, TerminalSeq: 1001,
		TxTime:     []byte{0x20, 0x24, 0x09, 0x01, 0x12, 0x00, 0x00},
		CardSerial: []byte{0x10, 0, 0, 0, 0, 0, 0x01, 0x23}, KeyIndex: 1, KeyVersion: 1,
		MAC1: []byte{0xA1, 0xA2, 0xA3, 0xA4},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.CompleteIntent(in.ID, offline.Completion{BalanceAfter: 3750, TAC: []byte{1, 2, 3, 4}, MAC2: []byte{5, 6, 7, 8}}); err != nil {
		log.Fatal(err)
	}

	entries, err := s.Records(0, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		r := e.Record
		fmt.Printf("%d %s %s card %s amount %d\n", r.Seq, r.WallTime().Format(time.TimeOnly), r.Kind, r.CardNo, r.Amount)
	}
	res, err := s.Verify()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("chain ok: %d records\n", res.Count)
	// Output:
	// 1 12:00:00 gate-pass card 2024000001 amount 0
	// 2 12:00:00 purchase-intent card 2024000001 amount 1250
	// 3 12:00:00 purchase-completed card 2024000001 amount 1250
	// chain ok: 3 records
}
