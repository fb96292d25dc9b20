package synce2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openykt/yktd/ledger"
	"github.com/openykt/yktd/offline"
	"github.com/openykt/yktd/offline/offlinetest"
	"github.com/openykt/yktd/protocol"
)

const backlog = 100_000

var (
	backlogOnce sync.Once
	backlogFile []byte
	backlogErr  error
)

// backlogStore returns the bytes of a store holding a 100,000-record
// journal, made once per test process (the store has no bulk append: each
// record is its own fsync'd commit, so filling it takes a while and stays
// outside the timer).
func backlogStore(b *testing.B) []byte {
	backlogOnce.Do(func() {
		dir, err := os.MkdirTemp("", "synce2e-backlog-")
		if err != nil {
			backlogErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "yktd.db")
		clk := offlinetest.NewClock(time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC))
		s, err := offline.Open(path, offline.Options{DeviceID: deviceID, Clock: clk})
		if err != nil {
			backlogErr = err
			return
		}
		for i := 0; i < backlog; i++ {
			r := protocol.Record{Kind: protocol.KindGatePass, CardNo: fmt.Sprintf("2024%06d", i%50000), Credential: "card"}
			if i%4 == 0 {
				r = protocol.Record{Kind: protocol.KindLoad, CardNo: fmt.Sprintf("2024%06d", i%50000), Amount: 5000, BalanceBefore: 1200, BalanceAfter: 6200, CardCounter: uint32(i), TerminalID: []byte{1, 2, 3, 4, 5, 6}, TAC: []byte{1, 2, 3, 4}}
			}
			if _, err := s.Append(r); err != nil {
				backlogErr = err
				s.Close()
				return
			}
			clk.Advance(100 * time.Millisecond)
		}
		if err := s.Close(); err != nil {
			backlogErr = err
			return
		}
		backlogFile, backlogErr = os.ReadFile(path)
	})
	if backlogErr != nil {
		b.Fatal(backlogErr)
	}
	return backlogFile
}

// BenchmarkSyncBacklog syncs a 100,000-record backlog from a real offline
// store to the real ledger (fsync on) over loopback HTTP: signed batches
// of 1,000 records, each verified and committed by the ledger and its
// signed ack verified and stored by the device. Budget (DESIGN.md 7):
// ≥ 20,000 records/s. Run:
//
//	go test -run '^$' -bench BenchmarkSyncBacklog -benchtime 3x ./internal/synce2e
func BenchmarkSyncBacklog(b *testing.B) {
	b.StopTimer()
	file := backlogStore(b)
	b.ResetTimer()
	ctx := context.Background()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		lr := newLedger(b, ledger.Options{})
		path := filepath.Join(b.TempDir(), "yktd.db")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			b.Fatal(err)
		}
		clk := offlinetest.NewClock(time.Date(2024, 9, 2, 8, 0, 0, 0, time.UTC))
		s, err := offline.Open(path, offline.Options{DeviceID: deviceID, Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		d := newDeviceWith(b, lr, s, clk, devOpts{batch: protocol.MaxBatchRecords})
		d.enrol(b, lr)
		start := time.Now()
		b.StartTimer()
		res, err := d.client.SyncOnce(ctx)
		b.StopTimer()
		total += time.Since(start)
		if err != nil || res.Cursor != backlog {
			b.Fatalf("SyncOnce = %+v, %v", res, err)
		}
		if dev, _ := lr.ledger().Device(deviceID); dev.HighWater != backlog {
			b.Fatalf("ledger high-water %d", dev.HighWater)
		}
		s.Close()
	}
	b.ReportMetric(float64(backlog*b.N)/total.Seconds(), "records/s")
}
