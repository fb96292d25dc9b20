package protocol_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/openykt/yktd/protocol"
)

// Example signs a batch of journal records on the device and verifies it
// on the ledger, then acknowledges it the other way round.
func Example() {
	const device = "pos-canteen1-07"

	// Keys: normally made once with GenerateKey and kept in 0600 files.
	devKey, _ := protocol.NewSigner(device, protocol.AlgEd25519, bytes.Repeat([]byte{1}, 32))
	ledgerKey, _ := protocol.NewSigner("ledger-2026", protocol.AlgEd25519, bytes.Repeat([]byte{2}, 32))

	// The device: two journal records chained from its genesis hash.
	prev := protocol.GenesisHash(device)
	var records [][]byte
	for seq := uint64(1); seq <= 2; seq++ {
		r := protocol.Record{Seq: seq, Time: 1_725_177_600_000, Kind: protocol.KindGatePass, Prev: prev[:], CardNo: "2024000123", Credential: "card"}
		raw, _ := protocol.EncodeRecord(&r)
		records = append(records, raw)
		prev = protocol.RecordHash(raw)
	}
	batch, err := protocol.NewBatch(device, 1, protocol.GenesisHash(device), records)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := protocol.Seal(devKey, &batch, device) // POST /v1/batches

	// The ledger: the kid names the device, whose enrolled key verifies it.
	devices := protocol.NewKeys(devKey.PublicKey())
	got, from, err := protocol.OpenFromDevice[protocol.Batch](devices, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ledger: batch %d from %s, records %d..%d\n", got.BatchNo, from, got.FirstSeq, got.LastSeq)
	ack := protocol.Ack{DeviceID: from, BatchNo: got.BatchNo, AckedThrough: got.LastSeq, Head: got.NewHead, ServerTime: 1_725_177_601_000}
	answer, _ := protocol.Seal(ledgerKey, &ack, from)

	// The device again: verify with the ledger key it learnt at enrolment.
	a, _, err := protocol.Open[protocol.Ack](protocol.NewKeys(ledgerKey.PublicKey()), answer, device)
	fmt.Printf("device: acked through %d, head matches: %v, err: %v\n", a.AckedThrough, a.HeadHash() == prev, err)

	// An answer sealed for another device is refused.
	_, _, err = protocol.Open[protocol.Ack](protocol.NewKeys(ledgerKey.PublicKey()), answer, "pos-canteen1-08")
	fmt.Println(err != nil && errors.Is(err, protocol.ErrBadSignature))
	// Output:
	// ledger: batch 1 from pos-canteen1-07, records 1..2
	// device: acked through 2, head matches: true, err: <nil>
	// true
}
