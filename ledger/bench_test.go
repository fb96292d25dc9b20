package ledger_test

import (
	"encoding/binary"
	"net/http"
	"testing"

	"github.com/openykt/yktd/ledger/ledgertest"
	"github.com/openykt/yktd/protocol"
	"github.com/openykt/yktd/reader/epurse"
	"github.com/openykt/yktd/reader/sam"
)

// journalGen makes a device's journal of sales without a store: intents
// and completions alternate, each completion with a TAC the test keys
// verify, every record chained to the one before.
type journalGen struct {
	dev  string
	seq  uint64
	prev [protocol.HashSize]byte
	keys epurse.Keys
}

func (g *journalGen) next(tb testing.TB, n int) protocol.Batch {
	tb.Helper()
	prev := g.prev
	raws := make([][]byte, 0, n)
	for range n {
		g.seq++
		serial := [8]byte{0x20, 0x26, 0x09, 0x01, 0, 0, 0, byte(g.seq % 50)}
		tid := [6]byte{0, 0, 0, 0, 0, 0xF1}
		dt := epurse.DateTime{0x20, 0x26, 0x09, 0x14, 0x12, 0x00, 0x00}
		r := protocol.Record{Seq: g.seq, Time: 1789000000000 + int64(g.seq), Prev: g.prev[:], CardNo: "1001202609010000" + string(rune('0'+g.seq%10)),
			Amount: 1200, BalanceBefore: 50000, CardCounter: uint32(g.seq), TerminalID: tid[:], TerminalSeq: uint32(g.seq),
			TxTime: dt[:], CardSerial: serial[:], KeyVersion: 1, MAC1: []byte{1, 2, 3, 4}}
		if g.seq%2 == 1 {
			r.Kind = protocol.KindPurchaseIntent
		} else {
			r.Kind, r.IntentID, r.BalanceAfter = protocol.KindPurchaseCompleted, g.seq-1, 48800
			ck, err := g.keys.ForCard(epurse.AlgDES, serial)
			if err != nil {
				tb.Fatal(err)
			}
			tac, err := epurse.PurchaseTAC(epurse.AlgDES, ck.DTK, 1200, tid, uint32(g.seq), dt)
			if err != nil {
				tb.Fatal(err)
			}
			r.TAC, r.MAC2 = tac[:], binary.BigEndian.AppendUint32(nil, 7)
		}
		raw, err := protocol.EncodeRecord(&r)
		if err != nil {
			tb.Fatal(err)
		}
		raws = append(raws, raw)
		g.prev = protocol.RecordHash(raw)
	}
	b, err := protocol.NewBatch(g.dev, g.seq/uint64(n), prev, raws)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkIntakeHTTP uploads batches of 1000 records (half of them
// purchase completions whose TAC the ledger verifies) to a ledger on
// loopback HTTP, fsync on, and reports records/s (DESIGN.md 7: sync to the
// reference ledger ≥ 20k records/s). Generating and signing the batches is
// the device's work and is not timed.
func BenchmarkIntakeHTTP(b *testing.B) {
	tl := ledgertest.Start(b, ledgertest.Options{})
	dev := tl.Enrol(b, "pos-bench", protocol.DevicePOS)
	g := &journalGen{dev: dev.ID, prev: protocol.GenesisHash(dev.ID), keys: sam.TestKeys().Keys[1]}
	const per = 1000
	records := 0
	for b.Loop() {
		b.StopTimer()
		batch := g.next(b, per)
		msg := dev.Seal(b, &batch)
		b.StartTimer()
		status, body := tl.Post(b, "/v1/batches", msg)
		if status != http.StatusOK {
			b.Fatalf("HTTP %d %v", status, ledgertest.ErrorOf(body))
		}
		records += per
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if d, err := tl.Device(dev.ID); err != nil || d.Stats.TACBad != 0 || d.Stats.TACVerified != uint64(records/2) {
		b.Fatalf("device %+v %v", d.Stats, err)
	}
}

// BenchmarkIntake is the ledger's own share of BenchmarkIntakeHTTP: Intake
// of decoded batches of 1000 records (no HTTP, no COSE), fsync on.
func BenchmarkIntake(b *testing.B) {
	tl := ledgertest.Start(b, ledgertest.Options{})
	dev := tl.Enrol(b, "pos-bench", protocol.DevicePOS)
	g := &journalGen{dev: dev.ID, prev: protocol.GenesisHash(dev.ID), keys: sam.TestKeys().Keys[1]}
	const per = 1000
	records := 0
	for b.Loop() {
		b.StopTimer()
		batch := g.next(b, per)
		b.StartTimer()
		if _, err := tl.Intake(batch); err != nil {
			b.Fatal(err)
		}
		records += per
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
